"""A small custom MLServer runtime serving the digit classifier (the ``mlserver`` scenario)."""

// Types the shipped Grafana dashboard JSON is checked against (tests/monitoring/
// test_dashboard.py appends `export const dashboard: SeldonGraphDashboard = <the JSON>;`
// and runs `tsc --noEmit` with @grafana/schema installed outside the work tree).
import type { DataQuery, Dashboard, RowPanel, Panel } from '@grafana/schema';
import type * as timeseries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen.d.ts';

// JSON holds an enum's value; TypeScript's string enums only accept their members:
// accept the values instead, recursively.
type Json<T> = T extends string
  ? `${T}`
  : T extends number | boolean | null | undefined
    ? T
    : T extends Array<infer U>
      ? Array<Json<U>>
      : { [K in keyof T]: Json<T[K]> };

// A Prometheus target, as Grafana's Prometheus data source stores it (the fields used
// here; @grafana/schema 11.6 does not carry the Prometheus query type).
interface PrometheusQuery extends DataQuery {
  expr: string;
  legendFormat?: string;
  range?: boolean;
  instant?: boolean;
  datasource?: { type: 'prometheus'; uid: string };
}

type TimeSeriesPanel = Omit<
  Panel<timeseries.Options, timeseries.FieldConfig>,
  'type' | 'options' | 'targets'
> & { type: 'timeseries'; options: timeseries.Options; targets: PrometheusQuery[] };

type SeldonGraphDashboard = Json<
  Omit<Dashboard, 'panels'> & { panels: Array<TimeSeriesPanel | (RowPanel & { panels: [] })> }
>;

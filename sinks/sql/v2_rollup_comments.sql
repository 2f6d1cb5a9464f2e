-- The hourly and daily rollups of pulse_indicator_points: plain views, or TimescaleDB
-- continuous aggregates (whose user-facing object is a view too).
COMMENT ON VIEW pulse_indicator_hourly IS
    'pulse_indicator_points rolled up per UTC hour: per contract, service, kpi, indicator and hour, '
    'the average, minimum, maximum and latest value and the number of points.';
COMMENT ON VIEW pulse_indicator_daily IS
    'pulse_indicator_points rolled up per UTC day: per contract, service, kpi, indicator and day, '
    'the average, minimum, maximum and latest value and the number of points.';

COMMENT ON COLUMN pulse_indicator_hourly.contract IS
    'Contract id.';
COMMENT ON COLUMN pulse_indicator_hourly.service IS
    'Service of the contract.';
COMMENT ON COLUMN pulse_indicator_hourly.kpi IS
    'KPI the indicator belongs to; empty string for service-wide indicators.';
COMMENT ON COLUMN pulse_indicator_hourly.indicator IS
    'Indicator name (see pulse_indicator_points.indicator).';
COMMENT ON COLUMN pulse_indicator_hourly.bucket IS
    'Start of the hour (timestamptz, UTC).';
COMMENT ON COLUMN pulse_indicator_hourly.avg_value IS
    'Average of the points'' values in the hour.';
COMMENT ON COLUMN pulse_indicator_hourly.min_value IS
    'Smallest value in the hour.';
COMMENT ON COLUMN pulse_indicator_hourly.max_value IS
    'Largest value in the hour.';
COMMENT ON COLUMN pulse_indicator_hourly.last_value IS
    'Value of the latest point (by at) in the hour.';
COMMENT ON COLUMN pulse_indicator_hourly.points IS
    'Number of points in the hour.';

COMMENT ON COLUMN pulse_indicator_daily.contract IS
    'Contract id.';
COMMENT ON COLUMN pulse_indicator_daily.service IS
    'Service of the contract.';
COMMENT ON COLUMN pulse_indicator_daily.kpi IS
    'KPI the indicator belongs to; empty string for service-wide indicators.';
COMMENT ON COLUMN pulse_indicator_daily.indicator IS
    'Indicator name (see pulse_indicator_points.indicator).';
COMMENT ON COLUMN pulse_indicator_daily.bucket IS
    'Start of the day (timestamptz, UTC).';
COMMENT ON COLUMN pulse_indicator_daily.avg_value IS
    'Average of the points'' values in the day.';
COMMENT ON COLUMN pulse_indicator_daily.min_value IS
    'Smallest value in the day.';
COMMENT ON COLUMN pulse_indicator_daily.max_value IS
    'Largest value in the day.';
COMMENT ON COLUMN pulse_indicator_daily.last_value IS
    'Value of the latest point (by at) in the day.';
COMMENT ON COLUMN pulse_indicator_daily.points IS
    'Number of points in the day.';

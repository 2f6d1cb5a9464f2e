-- Plain PostgreSQL: hourly and daily rollups of pulse_indicator_points as plain views, computed
-- when read (the (contract, indicator, at) index keeps a dashboard's time range cheap). Buckets
-- are UTC hours and days whatever the session's TimeZone.
CREATE VIEW pulse_indicator_hourly AS
SELECT contract,
       service,
       kpi,
       indicator,
       date_trunc('hour', at, 'UTC')            AS bucket,
       avg(value)                               AS avg_value,
       min(value)                               AS min_value,
       max(value)                               AS max_value,
       (array_agg(value ORDER BY at DESC))[1]   AS last_value,
       count(*)                                 AS points
FROM pulse_indicator_points
GROUP BY contract, service, kpi, indicator, date_trunc('hour', at, 'UTC');

CREATE VIEW pulse_indicator_daily AS
SELECT contract,
       service,
       kpi,
       indicator,
       date_trunc('day', at, 'UTC')             AS bucket,
       avg(value)                               AS avg_value,
       min(value)                               AS min_value,
       max(value)                               AS max_value,
       (array_agg(value ORDER BY at DESC))[1]   AS last_value,
       count(*)                                 AS points
FROM pulse_indicator_points
GROUP BY contract, service, kpi, indicator, date_trunc('day', at, 'UTC');

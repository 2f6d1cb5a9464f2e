"""Dashboards as code: Grafana dashboards and provisioning generated from contract files.

``dashboards.generate`` builds the four dashboards (wall screen, service owner, one per client,
pipeline health) with ``grafana-foundation-sdk`` (Grafana 11.6 types); ``dashboards.provisioning``
writes Grafana's file provisioning (datasources, dashboard providers) for the same clients;
``dashboards.macros`` expands Grafana's SQL macros and template variables the way Grafana does,
so tests can run every panel's SQL against the real schema. Pure: no database, no HTTP.
"""

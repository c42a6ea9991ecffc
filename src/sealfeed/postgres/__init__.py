"""sealfeed.postgres: the database side of the appliance (docs/postgres.md).

``bootstrap`` (initdb / keep the cluster, write the tuned config), ``tune`` (pure sizing from
the machine), ``render_pg_hba`` (each node role into its own database only),
``provision`` (one locked-down role + database per node, idempotent), readiness probes, and
:func:`node_database_url` for the Chainlink config renderer. psycopg is imported only by the
functions that connect.
"""

from __future__ import annotations

from sealfeed.postgres.bootstrap import BootstrapReport, bootstrap, inspect_data_dir
from sealfeed.postgres.limits import Limits, read_host_limits, read_limits
from sealfeed.postgres.provision import NodeProvision, ProvisionReport, provision
from sealfeed.postgres.ready import ReadyReport, probe_nodes, probe_server
from sealfeed.postgres.render import (
    node_database_url,
    node_database_url_redacted,
    render_pg_hba,
    render_postgresql_conf,
)
from sealfeed.postgres.secrets import (
    ensure_node_password,
    node_password_path,
    superuser_password_path,
)
from sealfeed.postgres.tune import Setting, TuneInputs, TuneResult, per_node_connections, tune

__all__ = [
    "BootstrapReport",
    "Limits",
    "NodeProvision",
    "ProvisionReport",
    "ReadyReport",
    "Setting",
    "TuneInputs",
    "TuneResult",
    "bootstrap",
    "ensure_node_password",
    "inspect_data_dir",
    "node_database_url",
    "node_database_url_redacted",
    "node_password_path",
    "per_node_connections",
    "probe_nodes",
    "probe_server",
    "provision",
    "read_host_limits",
    "read_limits",
    "render_pg_hba",
    "render_postgresql_conf",
    "superuser_password_path",
    "tune",
]

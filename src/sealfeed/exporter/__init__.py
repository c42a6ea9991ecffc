"""Process-metrics exporter: s6 supervise state + whole process trees from /proc, no subprocess.

Design §3.4/§7.3. ``Sampler`` reads files into a ``Snapshot``; ``ProcessCollector`` renders it
for a prometheus-client registry; ``sealfeed exporter serve`` runs the sample loop, ``/metrics``,
``/healthz`` and the push (``sealfeed.push``).
"""

from sealfeed.exporter.collector import FAMILIES, ProcessCollector, exposed_names
from sealfeed.exporter.sampler import (
    CgroupSample,
    ProcessSample,
    SampleError,
    Sampler,
    ServiceSample,
    Snapshot,
)

__all__ = [
    "FAMILIES",
    "CgroupSample",
    "ProcessCollector",
    "ProcessSample",
    "SampleError",
    "Sampler",
    "ServiceSample",
    "Snapshot",
    "exposed_names",
]

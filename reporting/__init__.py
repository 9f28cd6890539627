"""The monthly SLA report: gathering from Temporal, charts and the German HTML page.

The figures themselves are pure (:mod:`domain.sla_report`); this package does
the I/O around them: :mod:`reporting.gather` reads incidents and on-call
bookings from Temporal, :mod:`reporting.charts` draws the PNGs and
:mod:`reporting.html` writes the self-contained HTML file.
"""

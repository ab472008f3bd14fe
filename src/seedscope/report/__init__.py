"""The static HTML atlas of a sweep (`seedscope report`): reads analysis/ results, computes nothing."""

from seedscope.report.atlas import ReportSettings, write_report

__all__ = ["ReportSettings", "write_report"]

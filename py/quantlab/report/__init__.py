from .overview import render_overview
from .render import load_all_results, render_reports, render_with_section

__all__ = ["load_all_results", "render_overview", "render_reports", "render_with_section"]

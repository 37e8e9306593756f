"""Figures of result files (`vitbench plot`, the report's figures) and of the closed form (`split --plot`). No torch.

rows (row selection, lines, legend text; Skip) and plan (which figures a file supports and their data) never
import matplotlib; canvas, draw_cost, draw_measured, draw_train, closed_form and output draw and write.
"""

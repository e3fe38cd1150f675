"""shanzhi (善治): a city-wide, grid-based social governance platform."""

__version__ = "0.1.0"

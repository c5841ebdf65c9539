"""Pure brain logic. Nothing here performs I/O or reads the clock."""

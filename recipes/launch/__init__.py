"""The launcher: one row of the catalogue from settings to a running ``swift`` command, every decision in a
function a unit test can call (settings, batch layout, commands, option guard; docs/recipes.md)."""

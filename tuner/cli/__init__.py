"""Click wiring, one module per command.  Each module only parses options and calls the command
function in :mod:`tuner.commands`, which returns the exit code."""

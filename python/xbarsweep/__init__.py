"""xbarsweep's Python side. `xbarsweep.models`: the built-in models in PyTorch, with the module
names and forward passes of the C++ ones, to export to TorchScript (`model.name: torchscript`) or
to compare against. Import from the source tree with `sys.path.insert(0, "python")`."""

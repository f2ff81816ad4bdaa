"""ttnn.experimental of the simulated device (filled from the op registry by torch_ttnn.sim)."""

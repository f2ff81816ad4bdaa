"""ttnn.experimental.fft / ifft of the simulated device against torch.fft and their documented rules."""
import pytest
import torch

import torch_ttnn.sim as ttnn


def _dev_tensor(device, x, dtype=ttnn.float32, layout=ttnn.ROW_MAJOR_LAYOUT):
    return ttnn.from_torch(x, dtype=dtype, layout=layout, device=device)


@pytest.mark.parametrize("n", [16, 12])
def test_fft_matches_torch_and_ifft_inverts_it(device, n):
    x = torch.randn(3, 5, n)
    re, im = ttnn.experimental.fft(_dev_tensor(device, x))
    ref = torch.fft.fft(x)
    torch.testing.assert_close(ttnn.to_torch(re), ref.real, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ttnn.to_torch(im), ref.imag, rtol=1e-5, atol=1e-5)
    back_re, back_im = ttnn.experimental.ifft(re, im)          # scaled by 1/N
    torch.testing.assert_close(ttnn.to_torch(back_re), x, rtol=1e-5, atol=1e-5)
    assert ttnn.to_torch(back_im).abs().max() < 1e-5


def test_fast_path_is_a_bf16_mantissa_dft_for_fp32_non_power_of_two(device):
    x = torch.randn(4, 12)
    exact = torch.fft.fft(x)
    fast, _ = ttnn.experimental.fft(_dev_tensor(device, x), "fast")
    err = (ttnn.to_torch(fast) - exact.real).abs().max()
    assert 1e-4 < err < 5e-2                                   # bf16 operands, fp32 accumulation
    y = _dev_tensor(device, torch.randn(4, 16))
    fast_pow2, _ = ttnn.experimental.fft(y, "fast")                # a power of two: "fast" is ignored
    precise, _ = ttnn.experimental.fft(y)
    assert torch.equal(ttnn.to_torch(fast_pow2), ttnn.to_torch(precise))


def test_bfloat16_output_and_refusals(device):
    x = torch.randn(2, 32)
    re, _ = ttnn.experimental.fft(_dev_tensor(device, x, ttnn.bfloat16))
    assert re.dtype == ttnn.bfloat16 and re.layout == ttnn.ROW_MAJOR_LAYOUT
    with pytest.raises(RuntimeError, match="input_real"):
        ttnn.experimental.fft(_dev_tensor(device, x, layout=ttnn.TILE_LAYOUT))
    with pytest.raises(RuntimeError, match="precision"):
        ttnn.experimental.fft(_dev_tensor(device, x), "exact")
    a, b = _dev_tensor(device, x), _dev_tensor(device, torch.randn(2, 16))
    with pytest.raises(RuntimeError, match="spectrum_imag"):
        ttnn.experimental.ifft(a, b)

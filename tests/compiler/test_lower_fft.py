"""FFTs lowered to ttnn.experimental.fft / ifft on (real, imag) pairs (lowering/fft.py)."""
import pytest
import torch

from .harness import check_lowered, compile_and_run, remaining_aten_ops, ttnn_targets

CASES = {
    # FNet-style token mixing: the real part of a 2-D FFT over the sequence and hidden dims
    "fftn_real": lambda x: torch.fft.fftn(x, dim=(-2, -1)).real,
    "view_as_real": lambda x: torch.view_as_real(torch.fft.fft(x)),
    "rfft_one_sided": lambda x: torch.view_as_real(torch.fft.rfft(x)),
    "fft_over_a_middle_dim": lambda x: torch.fft.fft(x, dim=1).imag,
    "ifft_of_fft_ortho": lambda x: torch.fft.ifft(torch.fft.fft(x, norm="ortho"), norm="ortho").real,
    "fft2_forward_norm": lambda x: torch.fft.fft2(x, norm="forward").real,
    "non_power_of_two": lambda x: torch.fft.fft(x[..., :12]).real,
    "magnitude_spectrum": lambda x: torch.fft.rfft(x).abs(),
    "irfft": lambda x: torch.fft.irfft(torch.fft.rfft(x), n=16),
    "irfft_odd_length": lambda x: torch.fft.irfft(torch.fft.rfft(x[..., :15]), n=15),
    "complex_times_a_python_complex": lambda x: torch.view_as_real(torch.fft.fft(x) * (1 + 2j)),
    "irfft2_of_a_scaled_rfft2": lambda x: torch.fft.irfft2(torch.fft.rfft2(x) * 0.5, s=(8, 16)),
    "complex_over_a_python_complex": lambda x: torch.view_as_real(torch.fft.fft(x) / (1 + 2j)),
    "complex_over_complex": lambda x: torch.view_as_real(torch.fft.fft(x) / (torch.fft.fft(x.exp()) + 1j)),
    "complex_difference": lambda x: torch.view_as_real(torch.fft.fft(x) - 0.5 * torch.fft.fft(x * x)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fft_is_lowered(name, device):
    x = torch.randn(2, 8, 16)
    check_lowered(CASES[name], (x,), device=device, expect=("fft",))


def test_complex_value_for_another_op_is_rebuilt_on_the_host(device):
    # a complex power has no lowering: the FFT runs on the device, the power (and what reads it) on the host
    x = torch.randn(2, 8, 16)

    def fn(t):
        return torch.view_as_real(torch.fft.fft(t) ** 2)
    with torch.no_grad():
        out, option = compile_and_run(fn, (x,), device=device)
    left = remaining_aten_ops(option)
    assert left and all(op in ("aten.pow.Tensor_Scalar", "aten.view_as_real.default") for op in left), left
    assert "fft" in ttnn_targets(option)
    torch.testing.assert_close(out, fn(x), rtol=2e-2, atol=0.15)


def test_fft_convolution_runs_on_the_device(device):
    # a long convolution by FFT (Hyena, FNO-style layers): rfft of signal and kernel, complex product, irfft
    x, k = torch.randn(2, 4, 64), torch.randn(4, 64)

    def conv(x, k):
        return torch.fft.irfft(torch.fft.rfft(x, n=128) * torch.fft.rfft(k, n=128), n=128)[..., :64]
    check_lowered(conv, (x, k), device=device, expect=("fft", "matmul"))


def test_a_complex_sum_that_broadcasts_stays_on_the_host_with_the_right_shape(device):
    # the imaginary part would keep the smaller operand's shape: the sum runs on the host instead
    x = torch.randn(2, 8, 16)

    def fn(t):
        return torch.fft.fft(t[:, :1]) + t
    with torch.no_grad():
        out, option = compile_and_run(lambda t: torch.view_as_real(fn(t)), (x,), device=device)
    ref = torch.view_as_real(fn(x))
    assert out.shape == ref.shape and "aten.add.Tensor" in remaining_aten_ops(option)
    torch.testing.assert_close(out, ref, rtol=2e-2, atol=0.1)

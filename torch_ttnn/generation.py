"""Autoregressive generation (`model.generate`) through the TT-NN backend.

    import torch_ttnn
    option = torch_ttnn.TorchTtnnOption(device=torch_ttnn.open_device())
    tokens = torch_ttnn.generate(model, option, input_ids, max_new_tokens=32)   # = model.generate(...)

Strategy: static shapes, a static KV cache with a bucketed maximum length.
- The lowering rules refuse symbolic shapes, so dynamic shapes would leave every op on the host; with the
  default DynamicCache each decoding step has a new sequence length, i.e. a new graph per step with
  dynamic=False (a recompile storm, cut off by dynamo's recompile limit, after which the frame runs eagerly).
- transformers' StaticCache (`cache_implementation="static"`) preallocates the keys/values as
  [batch, heads, max_cache_len, head_dim] and writes each step's keys/values in place (`index_copy_` at
  `arange(n) + cumulative_length`, a 0-dim tensor, so no Python int changes between steps), and `generate`
  builds a 4-D attention mask of fixed width max_cache_len for such caches. Every decoding step then has the
  same shapes: ONE decode graph. The cache update reaches the aten graph as `index_put` along dim 2, which
  the pipeline rewrites to a scatter (passes/index_put.py); aot_autograd returns the updated cache and its
  runtime wrapper copies it back into the torch cache tensors (input mutations are not kept in the graph).
- The cache stays on the device (passes/device_state.py): each step loads it only if the host copy changed,
  writes the new keys/values into the same device tensors, and (inside `generate`, without beam search) does
  not read it back until generation ends: a decode step moves the new token ids in and the logits out.
- max_cache_len is bucketed (powers of two, at least one tile of 32), so `max_new_tokens` only changes the
  graphs when it crosses a bucket; transformers keeps the largest cache length a model has used, so a
  shorter generation after a longer one reuses the longer one's graphs.
- The model's forward is compiled with `nn.Module.compile(backend=torch_ttnn.backend, dynamic=False,
  isolate_recompiles=True)` (and the encoder of an encoder-decoder model, which `generate` calls on its own;
  isolated because transformers wraps every model's forward in one decorator function, whose code object -
  and recompile limit - all compiled models would otherwise share): the prefill (the prompt, with
  the cache being created), the decode step and the encoder are one graph each. Graphs per model:
  decoder-only 2 (prefill + decode), encoder-decoder 3 (encoder + first decoder step, which also fills the
  cross-attention cache + decode). Each new prompt length (batch x length) adds one prefill graph (and one
  encoder graph); the decode graph only depends on the batch and the cache bucket.
- transformers' own auto-compilation of the decode step (`compile_config`, only on accelerators or with
  `_compile_all_devices`) is disabled (`disable_compile=True`): it would compile again on top of ours.
- Greedy search of a decoder-only model whose scores nobody reads (no sampling, one beam, no logits processors,
  no output_scores / output_logits / attentions / hidden states): the token is chosen on the device. The forward is compiled once more as
  `argmax(forward(...).logits[:, -1])`, so a step reads back one integer per sequence instead of a
  [batch, vocabulary] row of logits (16 MB a step for a 128k vocabulary at batch 32, most of a decode step's
  modelled time); `generate` gets scores with the chosen token at 1 and every other at 0, which its own greedy
  selection turns into the same token. `option.results.token_choice` says, per call, where the token was chosen
  and why not on the device.
- Sliding-window layers: transformers' StaticSlidingWindowLayer branches on a Python int (its length), i.e. a
  recompile per token; decoder-only models with such layers get a StaticCache of full layers instead (the
  attention mask still applies the window; see `full_static_cache`).

`prepare(model, option)` + `model.generate(..., **generate_kwargs(model, args, kwargs))` is the same as
`generate`; a prepared model called with a plain `model.generate(...)` (dynamic cache) recompiles per token.

The compiled graphs are in `option.results` (graphs, reports: ops left on the host); `compare()` runs eager
and compiled generation and reports the token agreement and, at the first divergence, the logits margins.
"""
from __future__ import annotations

import contextlib
from typing import Optional

import torch

from . import runtime
from .options import TorchTtnnOption
from .compiler.report import host_fallbacks
from .compiler.tiles import TILE
from .portable import pcc

MIN_CACHE_LEN = TILE   # one tile


def cache_bucket(n: int, minimum: int = MIN_CACHE_LEN) -> int:
    """The static cache length for `n` positions: the next power of two, at least `minimum`."""
    b = minimum
    while b < n:
        b *= 2
    return b


def _unwrap(model):
    """The module itself for a `torch.compile`d one (an OptimizedModule)."""
    return getattr(model, "_orig_mod", model)


def _modules(model) -> list:
    """The modules `generate` calls: the model and, for encoder-decoder models, its encoder."""
    mods = [model]
    if getattr(model.config, "is_encoder_decoder", False) and hasattr(model, "get_encoder"):
        enc = model.get_encoder()
        if enc is not None and enc is not model:
            mods.append(enc)
    return mods


def prepare(model, option: Optional[TorchTtnnOption] = None) -> TorchTtnnOption:
    """Compile the forward of `model` (and of its encoder) with the TT-NN backend for generation; idempotent
    for the same option. Returns the option (its results collect the compiled graphs)."""
    from .backend import backend, open_target
    model = _unwrap(model)
    current = getattr(model, "_torch_ttnn_generation", None)
    if current is not None and (option is None or option is current):
        return current
    if current is not None:
        release(model)
    if option is None:
        option = TorchTtnnOption()
    open_target(option)
    for m in _modules(model):
        # isolate_recompiles: transformers wraps every model's forward in the same decorator function, so all
        # compiled models of a process would share one code object and one recompile limit (8 graphs in all)
        m.compile(backend=backend, options=option, dynamic=False, isolate_recompiles=True)
    model._torch_ttnn_generation = option
    return option


def release(model) -> None:
    """Undo `prepare`: the model runs eagerly again."""
    model = _unwrap(model)
    for m in _modules(model):
        if getattr(m, "_compiled_call_impl", None) is not None:
            m._compiled_call_impl = None
    for attr in ("_torch_ttnn_generation", "_torch_ttnn_choose"):
        if hasattr(model, attr):
            delattr(model, attr)


def _input_length(model, args, kwargs) -> int:
    """Length of the sequence the decoder starts from (the prompt; the decoder input for encoder-decoders)."""
    if getattr(model.config, "is_encoder_decoder", False):
        dec = kwargs.get("decoder_input_ids")
        return int(dec.shape[-1]) if isinstance(dec, torch.Tensor) else 1
    ids = args[0] if args else kwargs.get("input_ids", kwargs.get("inputs"))
    if isinstance(ids, torch.Tensor):
        return int(ids.shape[-1])
    emb = kwargs.get("inputs_embeds")
    return int(emb.shape[1]) if isinstance(emb, torch.Tensor) else 0


def generate_kwargs(model, args: tuple = (), kwargs: Optional[dict] = None) -> dict:
    """The `generate` keyword arguments for a static-shape generation: `kwargs` plus the static cache
    (unless the caller chose a cache), its bucketed length, and transformers' own compilation disabled."""
    kw = dict(kwargs or {})
    kw.setdefault("disable_compile", True)
    if kw.get("past_key_values") is None and kw.get("use_cache", True) is not False:
        kw.setdefault("cache_implementation", "static")
    if kw.get("cache_implementation") == "static":
        if kw.get("max_cache_len") is None:
            gc = kw.get("generation_config") or model.generation_config
            new = kw.get("max_new_tokens", getattr(gc, "max_new_tokens", None))
            start = _input_length(model, args, kw)
            if new is not None:
                total = start + int(new)
            else:
                total = int(kw.get("max_length") or getattr(gc, "max_length", None) or 20)
                if getattr(model.config, "is_encoder_decoder", False):
                    total = max(total, start)
            kw["max_cache_len"] = cache_bucket(total)
        if not getattr(model.config, "is_encoder_decoder", False):
            cache = full_static_cache(model, kw["max_cache_len"])
            if cache is not None:
                del kw["cache_implementation"], kw["max_cache_len"]
                kw["past_key_values"] = cache
    return kw


def full_static_cache(model, max_cache_len: int):
    """For a model with sliding-window (or chunked) attention layers: a StaticCache whose layers are all full
    static layers of `max_cache_len`, else None (transformers' own static cache is used).

    transformers' StaticSlidingWindowLayer tracks its length in a Python int and branches on it, so dynamo
    specializes every decoding step on it: one recompile per token. A full layer keeps every position and the
    attention mask, built per layer type from the config's window over absolute positions, still restricts each
    query to its window: the same attention, with a cache of max_cache_len instead of the window."""
    from transformers.cache_utils import StaticCache, StaticLayer
    cache = StaticCache(config=model.config.get_text_config(decoder=True), max_cache_len=max_cache_len)
    if not any(getattr(layer, "is_sliding", False) for layer in cache.layers):
        return None
    for i, layer in enumerate(cache.layers):
        if getattr(layer, "is_sliding", False):
            cache.layers[i] = StaticLayer(max_cache_len=max_cache_len)
    return cache


def generate(model, option: Optional[TorchTtnnOption] = None, *args, **kwargs):
    """`model.generate(*args, **kwargs)` with the model's forward running on TT-NN (static KV cache, bucketed
    length, static shapes). Returns what `model.generate` returns."""
    model = _unwrap(model)
    prepare(model, option)
    kw = generate_kwargs(model, args, kwargs)
    gc = kw.get("generation_config") or model.generation_config
    beams = kw.get("num_beams", getattr(gc, "num_beams", 1)) or 1
    # the static KV cache stays on the device between steps (passes/device_state.py); beam search reorders
    # the cache on the host, so there every step reads it back
    lazy = runtime.lazy_state() if beams <= 1 else contextlib.nullcontext()
    option = model._torch_ttnn_generation
    why_host = _host_choice_reason(model, args, kw)
    option.results.token_choice.append("device" if why_host is None else f"host: {why_host}")
    choice = _device_choice(model, option) if why_host is None else contextlib.nullcontext()
    with torch.no_grad(), lazy, choice:
        return model.generate(*args, **kw)


def _host_choice_reason(model, args: tuple, kw: dict) -> Optional[str]:
    """Why the next token cannot be chosen on the device (None: it can): `generate` must see real scores
    whenever it samples, searches beams, applies logits processors or returns the scores."""
    try:
        from transformers.generation.configuration_utils import GenerationMode
        gc, model_kwargs = model._prepare_generation_config(kw.get("generation_config"),
                                                            **{k: v for k, v in kw.items()
                                                               if k != "generation_config"})
        mode = gc.get_generation_mode(kw.get("assistant_model"))
    except Exception as e:       # a transformers without these internals: keep the logits path
        return f"generation config not readable ({type(e).__name__}: {e})"
    if mode != GenerationMode.GREEDY_SEARCH:
        return f"generation mode {mode.value}"
    if gc.output_scores or gc.output_logits:
        return "the scores are returned (output_scores / output_logits)"
    if gc.output_attentions or gc.output_hidden_states:
        return "the forward's attentions / hidden states are returned"
    if getattr(model.config, "is_encoder_decoder", False):
        # the decoder's token graph gave other tokens than its logits graph on T5 (not understood yet)
        return "encoder-decoder model (tokens on the device are only enabled for decoder-only models)"
    ids = args[0] if args and isinstance(args[0], torch.Tensor) else kw.get("input_ids", kw.get("inputs"))
    try:
        processors = model._get_logits_processor(
            generation_config=gc, input_ids_seq_length=_input_length(model, args, kw),
            encoder_input_ids=ids, prefix_allowed_tokens_fn=kw.get("prefix_allowed_tokens_fn"),
            logits_processor=kw.get("logits_processor"), device="cpu", model_kwargs=model_kwargs)
    except Exception as e:
        return f"logits processors not known ({type(e).__name__}: {e})"
    if len(processors):
        return "logits processors " + ", ".join(type(p).__name__ for p in processors)
    return None


def _vocabulary(model) -> Optional[int]:
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    n = getattr(head, "out_features", None)
    if n is None:
        n = getattr(model.config.get_text_config(decoder=True), "vocab_size", None)
    return n


@contextlib.contextmanager
def _device_choice(model, option: TorchTtnnOption):
    """While active, a call of `model` runs `argmax(forward(...).logits[:, -1])` compiled for TT-NN and returns
    an output whose logits are one-hot at the chosen tokens (see the module docstring)."""
    from .backend import backend
    vocab = _vocabulary(model)
    full = getattr(model, "_compiled_call_impl", None)
    if vocab is None or full is None:
        yield
        return
    choose = getattr(model, "_torch_ttnn_choose", None)
    if choose is None:
        forward = model._call_impl

        def chosen_tokens(*args, **kwargs):
            return forward(*args, **kwargs).logits[:, -1].argmax(-1)

        choose = torch.compile(chosen_tokens, backend=backend, options=option, dynamic=False,
                               isolate_recompiles=True)
        model._torch_ttnn_choose = choose
    from transformers.modeling_outputs import CausalLMOutputWithPast

    def call(*args, **kwargs):
        tokens = choose(*args, **kwargs)
        scores = torch.zeros(tokens.shape[0], 1, vocab, dtype=model.dtype)
        scores.scatter_(-1, tokens.reshape(-1, 1, 1), 1.0)
        return CausalLMOutputWithPast(logits=scores, past_key_values=kwargs.get("past_key_values"))

    model._compiled_call_impl = call
    try:
        yield
    finally:
        model._compiled_call_impl = full


def bound_generate(model, option: Optional[TorchTtnnOption] = None):
    """A callable standing for `model.generate` run through TT-NN (what `torch.compile(model.generate)` would
    be if compiling generate's Python loop made sense: only the model's forward is compiled)."""
    def run(*args, **kwargs):
        return generate(model, option, *args, **kwargs)
    run.__name__ = "generate"
    return run


# --------------------------------------------------------------------------------------------------
# Comparing with eager
# --------------------------------------------------------------------------------------------------

def prompt_length(model, args: tuple = (), kwargs: Optional[dict] = None) -> int:
    """Positions of a `generate` result that were not generated: the prompt of a decoder-only model, the decoder
    start token(s) of an encoder-decoder."""
    return _input_length(model, args, kwargs or {})


def agreement_summary(model, inputs, out, ref) -> dict:
    """Token agreement of a compiled `generate` result with the eager one, for `inputs` as given to generate
    (a dict of keyword arguments, a tuple of positional ones, or the input ids)."""
    if isinstance(inputs, dict):
        args, kwargs = (), inputs
    else:
        args, kwargs = (tuple(inputs) if isinstance(inputs, (list, tuple)) else (inputs,)), {}
    start = prompt_length(model, args, kwargs)
    agree, first = token_agreement(out, ref, start)
    return {"agreement": agree, "first_divergence": first,
            "new_tokens": int(sequences(ref).shape[-1]) - start}

def sequences(out) -> torch.Tensor:
    """The token ids of a `generate` result (a tensor or a GenerateOutput)."""
    if isinstance(out, torch.Tensor):
        return out
    seq = getattr(out, "sequences", None)
    if seq is None and isinstance(out, dict):
        seq = out.get("sequences")
    if not isinstance(seq, torch.Tensor):
        raise TypeError(f"not a generate() result: {type(out).__name__}")
    return seq


def token_agreement(out, ref, start: int = 0) -> tuple:
    """(percent of generated positions where `out` has `ref`'s token, first differing step or None).

    Positions from `start` on (the prompt of a decoder-only model is skipped) over the longer of the two
    (a sequence that stopped early disagrees at the positions the other one generated)."""
    a, b = sequences(out), sequences(ref)
    a, b = a[..., start:], b[..., start:]
    n = max(a.shape[-1], b.shape[-1])
    if n == 0:
        return 100.0, None
    m = min(a.shape[-1], b.shape[-1])
    same = torch.zeros(b.shape[:-1] + (n,), dtype=torch.bool)
    same[..., :m] = a[..., :m] == b[..., :m]
    cols = same.all(dim=tuple(range(same.dim() - 1))) if same.dim() > 1 else same
    bad = (~cols).nonzero()
    first = int(bad[0]) if bad.numel() else None
    return round(100.0 * float(same.float().mean()), 2), first


def _margin(logits: torch.Tensor) -> float:
    """How much the top logit beats the best other one (>= 0), for the first sequence of the batch."""
    row = logits[0].float()
    top2 = torch.topk(row, 2).values
    return float(top2[0] - top2[1])


def compare(model, option: Optional[TorchTtnnOption] = None, *args, **kwargs) -> dict:
    """Run `model.generate(*args, **kwargs)` eagerly and through TT-NN (greedy decoding recommended) and
    report the agreement: tokens, compiled graphs, ops left on the host, and at the first divergence the
    eager and compiled logits of that step (top-1 vs top-2 margins, and how far apart the two candidates are
    in each run), which tells a bf16 near-tie from a real error."""
    import torch._dynamo
    from torch._dynamo.utils import counters
    kw = dict(kwargs)
    kw.update(return_dict_in_generate=True, output_logits=True)
    model = _unwrap(model)
    with torch.no_grad(), torch.compiler.set_stance("force_eager"):   # eager even if `model` is prepared
        ref = model.generate(*args, **kw)
    counters.clear()
    option = prepare(model, option)
    n_before = len(option.results.reports)
    out = generate(model, option, *args, **kw)
    start = prompt_length(model, args, kw)
    agree, first = token_agreement(out, ref, start)
    reports = option.results.reports[n_before:]
    host = host_fallbacks(reports)
    res = {
        "eager": sequences(ref)[..., start:].tolist(),
        "compiled": sequences(out)[..., start:].tolist(),
        "agreement": agree,
        "first_divergence": first,
        "graphs": len(reports),
        "graph_kinds": [r.kind for r in reports],
        "unique_graphs": int(counters["stats"].get("unique_graphs", 0)),
        "host_ops": [{"op": op, "reason": reason, "count": n} for (op, reason), n in sorted(host.items())],
        "aten_ops": sum(sum(r.aten_ops.values()) for r in reports),
    }
    el, cl = getattr(ref, "logits", None), getattr(out, "logits", None)
    if el and cl:
        k = min(len(el), len(cl), first if first is not None else len(el))
        res["logits_pcc"] = [round(pcc(cl[i], el[i]), 5) for i in range(k)]
        if first is not None and first < len(el) and first < len(cl):
            e, c = el[first][0].float(), cl[first][0].float()
            te, tc = int(e.argmax()), int(c.argmax())
            res["divergence"] = {
                "step": first, "eager_token": te, "compiled_token": tc,
                "eager_margin": round(float(e[te] - e[tc]), 4),       # how much eager prefers its token
                "compiled_margin": round(float(c[tc] - c[te]), 4),    # how much compiled prefers its token
                "eager_top2_margin": round(_margin(el[first]), 4),
                "logits_scale": round(float(e.std()), 4),
                "logits_pcc": round(pcc(c, e), 5),
                "max_abs_logit_error": round(float((c - e).abs().max()), 4),
            }
            res["divergence"]["cause"] = divergence_cause(res["divergence"])
    return res


def divergence_cause(d: dict) -> str:
    """Why the first differing token differs. The two candidates swap when their logits move apart by
    eager_margin + compiled_margin (the swing); each logit is off by at most max_abs_logit_error, so a swing
    within twice that error, with the step's logits still highly correlated (PCC >= 0.99), is a near-tie that
    bf16 rounding decides. Otherwise the compiled logits are wrong."""
    swing = d["eager_margin"] + d["compiled_margin"]
    if d["logits_pcc"] >= 0.99 and swing <= 2 * d["max_abs_logit_error"]:
        return (f"bf16 numerics: a near-tie, eager prefers token {d['eager_token']} over {d['compiled_token']} by "
                f"{d['eager_margin']} (logits std {d['logits_scale']}); the swing {swing:.4f} between the two is "
                f"within twice the step's max logit error {d['max_abs_logit_error']} (logits PCC "
                f"{d['logits_pcc']})")
    return (f"compiled logits differ: swing {swing:.4f} between the two tokens > 2 x max logit error "
            f"{d['max_abs_logit_error']}, or logits PCC {d['logits_pcc']} < 0.99")



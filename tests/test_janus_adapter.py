"""The janus / janus-tiny / hf-janus adapters as the runner uses them."""

from __future__ import annotations

import subprocess
import sys

import pytest
from janus_eval.model_adapters.janus.adapter import JanusAdapter
from janus_eval.model_adapters.janus.understand import greedy
from janus_helpers import one_thread, random_image, tiny_dir, tiny_model, tiny_processor  # noqa: F401

from janus_eval import registry
from janus_eval.types import ImageRequest, UnderstandRequest, UserError

pytestmark = pytest.mark.usefixtures("one_thread")


def test_registered_and_cheap_to_import():
    assert {"janus", "janus-tiny", "hf-janus"} <= set(registry.adapter_names())
    code = "import sys; from janus_eval import registry; registry.load_all(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_missing_local_model_path_stops_the_run_before_any_data_is_read(tmp_path, cli):
    with pytest.raises(UserError, match="does not exist: model 'janus' needs a local Janus"):
        JanusAdapter(str(tmp_path / "nowhere"))
    assert JanusAdapter("nobody/no-model").model_path == "nobody/no-model"  # a hub name: later
    # no --data-dir: POPE would read the hub dataset first (offline, ~25 s of retries)
    proc = cli("run", "--task", "pope", "--model", "janus", "--model-path",
               str(tmp_path / "nowhere"), "--output-dir", str(tmp_path / "out"),
               env={"HF_HUB_OFFLINE": "1"})  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "nowhere does not exist: model 'janus'" in " ".join(proc.stderr.split())
    assert "dataset" not in proc.stderr and not (tmp_path / "out").exists()


def test_janus_needs_a_model_path_and_valid_options():
    with pytest.raises(UserError, match="needs --model-path"):
        JanusAdapter()
    with pytest.raises(UserError, match="no option"):
        JanusAdapter(str(tiny_dir()), colour="red")
    with pytest.raises(UserError, match="rows_per_batch"):
        JanusAdapter(str(tiny_dir()), rows_per_batch="many")
    with pytest.raises(UserError, match="dtype"):
        JanusAdapter(str(tiny_dir()), dtype="int8")


def test_describe_pins_the_weights():
    a = JanusAdapter(str(tiny_dir()))
    d = a.describe()
    assert d["name"] == "janus" and len(d["weights_sha256"]) == 64 and d["layout"] == "original"
    assert d["chat_format"] == "pro" and d["image_size"] == 32
    assert a._model is None  # describing does not load the model
    assert JanusAdapter(str(tiny_dir("hf"))).describe()["weights_sha256"] != d["weights_sha256"]
    from janus_eval.model_adapters.janus.adapter import JanusTinyAdapter

    tiny = JanusTinyAdapter().describe()  # written on first use, named by version not by path
    assert (
        tiny["checkpoint"].startswith("janus-tiny-v")
        and tiny["weights_sha256"] == d["weights_sha256"]
    )


def test_batched_answers_equal_one_at_a_time():
    """Different lengths, images or not, and a stop token that ends rows at different steps."""
    proc, model = tiny_processor(), tiny_model()
    items = [
        ("What is in this picture? Answer briefly.", (random_image(3, 40, 24),), None),
        ("Hi", (), ""),
        ("Compare <image> and <image>", (random_image(4, 16, 16), random_image(5, 30, 50)), None),
    ]
    budgets = [12, 7, 12]
    alone = [
        greedy(model, proc.understanding_batch([it]), [b], {proc.ids.eos})[0]
        for it, b in zip(items, budgets)
    ]
    assert [len(a) for a in alone] == budgets  # random weights never say EOS here
    # stop on a token that row 0 emits mid-way: row 0 ends early, the others go on
    stop = alone[0][4]
    cut = [a[: a.index(stop)] if stop in a else a for a in alone]
    assert len(cut[0]) == 4 and any(len(c) > 4 for c in cut[1:])
    together = greedy(model, proc.understanding_batch(items), budgets, {proc.ids.eos, stop})
    assert together == cut
    assert greedy(model, proc.understanding_batch(items), budgets, {proc.ids.eos}) == alone


def test_adapter_understand_and_generate_end_to_end():
    a = JanusAdapter(str(tiny_dir()))
    answers = a.understand(
        [
            UnderstandRequest("Is there a dog?", (random_image(0, 20, 20),), max_new_tokens=3),
            UnderstandRequest("Describe the scene.", (), max_new_tokens=0),
        ]
    )
    assert len(answers) == 2 and answers[0] and answers[1] == ""
    out = a.generate_images(
        [
            ImageRequest("a red apple", "s1", seed=1, n=3),
            ImageRequest("a blue car", "s2", seed=1, n=4, image_indices=(2,)),
        ]
    )
    assert [len(x) for x in out] == [3, 1]
    assert all(im.size == (32, 32) and im.mode == "RGB" for x in out for im in x)
    again = a.generate_images([ImageRequest("a blue car", "s2", seed=1, n=4)])
    assert again[0][2].tobytes() == out[1][0].tobytes()  # image 2 is image 2, alone or not


def test_cfg_weight_left_to_the_model_is_upstreams_five():
    a = JanusAdapter(str(tiny_dir()))
    auto, five, two = (
        a.generate_images([ImageRequest("a red apple", "c", seed=1, n=1, cfg_weight=w)])[0][0]
        for w in (None, 5.0, 2.0)
    )
    assert auto.tobytes() == five.tobytes() != two.tobytes()


def test_generation_only_load_makes_the_same_images():
    full = JanusAdapter(str(tiny_dir()))
    lean = JanusAdapter(str(tiny_dir()), parts="generation")
    req = [ImageRequest("a green bus", "g", seed=3, n=2)]
    assert [im.tobytes() for im in lean.generate_images(req)[0]] == [
        im.tobytes() for im in full.generate_images(req)[0]
    ]
    model = lean._model
    assert model.vision is None and model.llm.lm_head is None and model.vq.encoder is None
    with pytest.raises(UserError, match="parts=generation"):
        lean.understand([UnderstandRequest("hi")])


def test_bad_image_requests_fail_before_any_work():
    a = JanusAdapter(str(tiny_dir()))
    for req, msg in [
        (ImageRequest("x", "r", size=384), "size 384 is not supported"),
        (ImageRequest("x", "r", cfg_weight=-1), "cfg_weight -1"),
        (ImageRequest("x", "r", temperature=-0.5), "temperature"),
        (ImageRequest("x", "r", top_p=1.5), "top_p"),
        (ImageRequest("x", "r", n=2, image_indices=(5,)), "outside range"),
    ]:
        with pytest.raises(UserError, match=msg):
            a.generate_images([ImageRequest("fine", "ok"), req])
    assert a._model is None  # nothing was loaded, let alone generated


# Prompts, images and system prompts that each change the logits. Images at the model's size:
# resized ones differ from upstream's by one uint8 level in a few pixels in transformers' own
# resize (documented), which would move the image rows' logits.
UNDERSTAND = [
    UnderstandRequest("What color is it?", (random_image(7, 32, 32),), max_new_tokens=4),
    UnderstandRequest("Say something", (), max_new_tokens=3),  # upstream's default system prompt
    UnderstandRequest("Say something", (), max_new_tokens=3, system_prompt=""),
    UnderstandRequest("Say something", (), max_new_tokens=3, system_prompt="You are terse."),
    UnderstandRequest(
        "Compare <image> with <image>.",
        (random_image(8, 32, 32), random_image(9, 32, 32)),
        max_new_tokens=2,
        system_prompt="Be brief.",
    ),
]


def _inputs_each_adapter_builds(monkeypatch, reqs):
    """(janus batch, hf-janus model inputs, both answer lists): each adapter answers `reqs`
    while its model input is recorded on the way in."""
    from janus_eval.model_adapters.hf_janus import HFJanusAdapter
    from janus_eval.model_adapters.janus import understand

    hf = HFJanusAdapter(str(tiny_dir("hf")))
    hf_model = hf._load()[0]
    seen = {}
    generate = hf_model.generate
    monkeypatch.setattr(
        hf_model, "generate", lambda **kw: seen.setdefault("hf", kw) and generate(**kw)
    )
    real_greedy = understand.greedy
    monkeypatch.setattr(
        understand,
        "greedy",
        lambda m, b, *a, **k: seen.setdefault("ours", b) and real_greedy(m, b, *a, **k),
    )
    janus = JanusAdapter(str(tiny_dir("hf")))
    answers = (janus.understand(reqs), hf.understand(reqs))
    return janus, hf_model, seen["ours"], seen["hf"], answers


@pytest.mark.slow
def test_hf_janus_agrees_with_janus_on_logits(monkeypatch):
    """The inputs each adapter builds (tokens one for one, pixels) give the same logits at every
    position, through each side's own model. The prompts, images and system prompts all move
    the logits, so a change to any of them on one side (e.g. the system prompt twice) fails."""
    import torch
    from janus_eval.model_adapters.janus.llm import positions
    from janus_eval.model_adapters.janus.understand import prefill_logits
    from janus_helpers import rel_err

    janus, hf_model, batch, hf_in, (ours_answers, hf_answers) = _inputs_each_adapter_builds(
        monkeypatch, UNDERSTAND
    )
    valid = hf_in["attention_mask"].bool()
    assert [r[m].tolist() for r, m in zip(hf_in["input_ids"], valid)] == [
        r[m].tolist() for r, m in zip(batch.ids, batch.valid)
    ]
    assert rel_err(hf_in["pixel_values"].float(), batch.pixels) <= 1e-6
    with torch.no_grad():
        ref = hf_model(
            input_ids=hf_in["input_ids"],
            pixel_values=hf_in["pixel_values"],
            attention_mask=hf_in["attention_mask"],
            position_ids=positions(valid),
        ).logits
    ours = prefill_logits(janus._model, batch)
    assert rel_err(ours[batch.valid], ref[valid]) <= 1e-4
    last = ours[:, -1]  # every request's next-token logits differ from every other's
    for i in range(len(UNDERSTAND)):
        for j in range(i):
            assert rel_err(last[i], last[j]) > 1e-2, (i, j)
    assert ours_answers == hf_answers


@pytest.mark.slow
def test_hf_janus_agrees_with_janus_on_image_tokens(monkeypatch):
    """Greedy CFG image tokens (temperature 0), one for one, for prompts that lead to different
    tokens; each adapter's tokens recorded where its VQ decoder receives them."""
    import torch
    from janus_eval.model_adapters.hf_janus import HFJanusAdapter

    reqs = [
        ImageRequest("a cat", "r1", n=1, temperature=0),
        ImageRequest("two red cubes on a wooden table", "r2", n=1, temperature=0, cfg_weight=3.0),
    ]
    hf = HFJanusAdapter(str(tiny_dir("hf")))
    hf_model = hf._load()[0]
    hf_tokens = []
    decode = hf_model.decode_image_tokens
    monkeypatch.setattr(
        hf_model, "decode_image_tokens", lambda t: hf_tokens.append(t.clone()) or decode(t)
    )
    hf_images = hf.generate_images(reqs)
    janus = JanusAdapter(str(tiny_dir("hf")))
    ours = []
    real_decode = janus._decode
    monkeypatch.setattr(
        janus, "_decode", lambda m, codes: ours.append(codes) or real_decode(m, codes)
    )
    our_images = janus.generate_images(reqs)
    assert torch.cat(hf_tokens).tolist() == ours[0].tolist()
    assert ours[0].shape == (2, 16) and not torch.equal(ours[0][0], ours[0][1])
    assert len(set(ours[0][0].tolist())) > 4  # a real sequence, not one code repeated
    assert [im.size for x in hf_images for im in x] == [im.size for x in our_images for im in x]


def test_hf_janus_refuses_the_original_layout():
    from janus_eval.model_adapters.hf_janus import HFJanusAdapter

    with pytest.raises(UserError, match="deepseek-ai layout"):
        HFJanusAdapter(str(tiny_dir())).describe()


def test_hf_janus_describe_names_the_chat_format():
    """The role spelling changes every prompt, so it must change the run's results key: two
    hf-janus runs with different chat_format must not share stored answers."""
    from janus_eval.model_adapters.hf_janus import HFJanusAdapter

    path = str(tiny_dir("hf"))
    pro = HFJanusAdapter(path, chat_format="pro").describe()
    old = HFJanusAdapter(path, chat_format="janus").describe()
    assert pro["chat_format"] == "pro" and old["chat_format"] == "janus"
    assert pro != old
    assert HFJanusAdapter(path).describe()["chat_format"] == "pro"  # auto, resolved
    with pytest.raises(UserError, match="chat_format"):
        HFJanusAdapter(path, chat_format="llama")

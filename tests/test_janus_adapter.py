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


@pytest.mark.slow
def test_hf_janus_agrees_with_janus_on_answers():
    from janus_eval.model_adapters.hf_janus import HFJanusAdapter

    reqs = [
        UnderstandRequest("What color is it?", (random_image(7, 32, 32),), max_new_tokens=5),
        UnderstandRequest("Say something", (), max_new_tokens=3),
    ]
    hf = HFJanusAdapter(str(tiny_dir("hf")))
    assert hf.understand(reqs) == JanusAdapter(str(tiny_dir("hf"))).understand(reqs)
    images = hf.generate_images([ImageRequest("a cat", "r", n=1)])
    assert images[0][0].size == (32, 32)
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

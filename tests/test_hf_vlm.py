"""The `hf-vlm` adapter on tiny random LLaVA and Qwen2-VL checkpoints (built from configs in
tests/hf_vlm_helpers.py, loaded by path): batched answers equal one-at-a-time answers, the
prompt and image reach the model, describe() separates every setting, refusals are clear, and
pope / mmbench run end to end."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hf_vlm_helpers import ARCHITECTURES, LLAVA_TEMPLATE, QWEN_TEMPLATE, tiny_llava, tiny_qwen2_vl
from janus_helpers import one_thread  # noqa: F401  (a fixture)
from PIL import Image
from test_mmbench_task import dev_rows, write_tsv
from test_pope_task import rec, write_pope
from understanding_helpers import stored_samples

from janus_eval.api import evaluate
from janus_eval.types import UnderstandRequest, UserError

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("one_thread")  # toy models: threads only add barriers


def adapter(path: Path | None, **options):
    from janus_eval.model_adapters.hf_vlm import HFVLMAdapter

    return HFVLMAdapter(model_path=None if path is None else str(path), **options)


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def arch(request):
    return request.param, ARCHITECTURES[request.param]()


def picture(w: int, h: int, seed: int) -> Image.Image:
    g = torch.Generator().manual_seed(seed)
    return Image.fromarray(torch.randint(0, 256, (h, w, 3), generator=g, dtype=torch.uint8).numpy())


# Different prompt lengths, image shapes (Qwen2-VL gives them different token counts) and
# answer lengths, so the batch is really left-padded and cut per request.
REQUESTS = [
    UnderstandRequest("<image>\nIs there a dog in the image?", (picture(20, 12, 0),), 6),
    UnderstandRequest("Describe it.", (picture(9, 30, 1),), 9, system_prompt="Be brief."),
    UnderstandRequest(
        "<image>\nWhat colour is the car on the left, friend?", (picture(16, 16, 2),), 3
    ),
    UnderstandRequest("<image>\nCount.", (picture(30, 9, 3),), 9),
]


def test_batched_answers_equal_one_at_a_time(arch):
    name, path = arch
    model = adapter(path)
    batch = model.inputs(REQUESTS)
    assert (batch["attention_mask"][:, 0] == 0).any(), "the batch should need left padding"
    together = model.understand(REQUESTS)
    alone = [model.understand([r])[0] for r in REQUESTS]
    assert together == alone
    assert any(together), "every answer empty: the test would not see a difference"
    # one byte per token: an answer has at most max_new_tokens characters
    assert all(len(a) <= r.max_new_tokens for a, r in zip(together, REQUESTS))
    assert model.understand([]) == []


def test_answers_end_at_the_generation_configs_eos():
    model = adapter(tiny_llava())
    net = model._load()
    with torch.inference_mode():
        first = net.generate(**model.inputs(REQUESTS[:1]), max_new_tokens=1, do_sample=False)
    net.generation_config.eos_token_id = [int(first[0, -1])]  # an ordinary byte token
    ended = model.understand(REQUESTS)
    assert ended[0] == "" and ended == [model.understand([r])[0] for r in REQUESTS]


def last_logits(model, req: UnderstandRequest):
    with torch.inference_mode():
        return model._load()(**model.inputs([req])).logits[0, -1]


def test_prompt_and_image_reach_the_model(arch):
    name, path = arch
    model = adapter(path)
    base = REQUESTS[0]
    other_prompt = UnderstandRequest(base.prompt.replace("dog", "cat"), base.images)
    other_image = UnderstandRequest(base.prompt, (picture(20, 12, 9),))
    a, b, c = (last_logits(model, r) for r in (base, other_prompt, other_image))
    assert not torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(a, last_logits(model, base))  # and nothing else varies
    ids = model.inputs([base])["input_ids"][0].tolist()
    assert model.processor.tokenizer.decode(ids).count("Is there a dog in the image?") == 1


def test_messages_place_images_and_system_prompts():
    model = adapter(tiny_llava())
    img = picture(4, 4, 0)
    req = UnderstandRequest("Compare <image> with\n<image>\nplease.", (img, img), system_prompt="")
    assert model.messages(req) == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Compare"},
                {"type": "image"},
                {"type": "text", "text": "with"},
                {"type": "image"},
                {"type": "text", "text": "please."},
            ],
        }
    ]
    first = UnderstandRequest("What is it?", (img,), system_prompt="Be brief.")
    assert model.messages(first) == [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]},
    ]
    assert model.messages(first)[0] != adapter(tiny_llava(), system_prompt="Hi.").messages(first)[0]
    with pytest.raises(UserError, match="2 <image> marker.*1 image"):
        model.messages(UnderstandRequest("<image> and <image>", (img,)))
    # the rendered prompt, through the checkpoint's template
    text = model.processor.tokenizer.decode(model.inputs([first])["input_ids"][0])
    assert text == "<s>SYSTEM: Be brief. USER: " + "<image>" * 4 + "\nWhat is it? ASSISTANT:"
    # a template that writes BOS itself gets no second one
    own_bos = adapter(tiny_llava(), chat_template="<s>" + LLAVA_TEMPLATE)
    ids = own_bos.inputs([first])["input_ids"][0].tolist()
    assert ids[0] == own_bos.processor.tokenizer.bos_token_id and ids.count(ids[0]) == 1


def test_qwen_template_default_system_prompt_applies_only_without_one():
    model = adapter(tiny_qwen2_vl())
    img = picture(8, 8, 0)
    decode = model.processor.tokenizer.decode
    plain = decode(
        model.inputs([UnderstandRequest("Hi", (img,), system_prompt="")])["input_ids"][0]
    )
    assert plain.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>")
    told = adapter(tiny_qwen2_vl(), system_prompt="Answer in one word.")
    text = decode(told.inputs([UnderstandRequest("Hi", (img,))])["input_ids"][0])
    assert text.startswith("<|im_start|>system\nAnswer in one word.<|im_end|>")


def test_describe_separates_every_setting(tmp_path):
    path = tiny_qwen2_vl()
    base = adapter(path).describe()
    assert base == adapter(path).describe()  # a fresh adapter, same settings: same identity
    assert base["name"] == "hf-vlm" and base["checkpoint"] == str(path)
    assert base["model_type"] == "qwen2_vl" and len(base["weights_sha256"]) == 64
    template = tmp_path / "t.jinja"
    template.write_text(QWEN_TEMPLATE.replace("helpful", "terse"))
    variants = {
        "dtype": adapter(path, dtype="bf16").describe(),
        "attn": adapter(path, attn_implementation="eager").describe(),
        "system": adapter(path, system_prompt="Be brief.").describe(),
        "template": adapter(path, chat_template=str(template)).describe(),
    }
    for what, desc in variants.items():
        assert desc != base, what
    assert variants["template"]["chat_template_sha256"] != base["chat_template_sha256"]
    inline = adapter(path, chat_template=template.read_text()).describe()
    assert inline["chat_template_sha256"] == variants["template"]["chat_template_sha256"]

    # a copy with one processor file changed, then with other weights
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    same = adapter(copy).describe()
    assert {k: v for k, v in same.items() if k != "checkpoint"} == {
        k: v for k, v in base.items() if k != "checkpoint"
    }
    cfg = json.loads((copy / "processor_config.json").read_text())
    cfg["image_processor"]["max_pixels"] = 20 * 20
    (copy / "processor_config.json").write_text(json.dumps(cfg))
    changed = adapter(copy).describe()
    assert changed["processor_sha256"] != base["processor_sha256"]
    assert changed["weights_sha256"] == base["weights_sha256"]
    from safetensors.torch import load_file, save_file

    weights = load_file(copy / "model.safetensors")
    first = sorted(weights)[0]
    weights[first] = weights[first] + 1
    save_file(weights, copy / "model.safetensors", metadata={"format": "pt"})
    assert adapter(copy).describe()["weights_sha256"] != base["weights_sha256"]


def test_bad_options_and_checkpoints_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="needs --model-path"):
        adapter(None)
    with pytest.raises(UserError, match="no option"):
        adapter(tiny_llava(), temperature="0.7")
    with pytest.raises(UserError, match="attn_implementation='magic'"):
        adapter(tiny_llava(), attn_implementation="magic")
    with pytest.raises(UserError, match="no such file"):
        adapter(tiny_llava(), chat_template="/no/such/template.jinja")
    with pytest.raises(UserError, match="dtype"):
        adapter(tiny_llava(), dtype="int4")
    with pytest.raises(UserError, match="cannot generate images"):
        adapter(tiny_llava()).generate_images([])

    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "config.json").write_text(
        json.dumps({"model_type": "my_vlm", "auto_map": {"AutoConfig": "cfg.MyConfig"}})
    )
    with pytest.raises(UserError, match="trust_remote_code; janus-eval never runs remote code"):
        adapter(remote).describe()
    text_only = tmp_path / "text"
    text_only.mkdir()
    (text_only / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(UserError, match="'gpt2' is not an image-text-to-text model"):
        adapter(text_only).describe()
    (text_only / "config.json").write_text("{not json")
    with pytest.raises(UserError, match="not readable JSON"):
        adapter(text_only).describe()
    with pytest.raises(UserError, match="does not exist"):
        adapter(tmp_path / "nowhere").describe()
    if os.environ.get("HF_HUB_OFFLINE") == "1":  # a hub name not in the cache, offline
        with pytest.raises(UserError, match="could not get 'nobody/no-vlm' from the Hugging"):
            adapter("nobody/no-vlm").describe()
    broken = tmp_path / "broken"
    shutil.copytree(tiny_llava(), broken)
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(UserError, match="transformers could not load the model"):
        adapter(broken).understand(REQUESTS[:1])
    if torch.cuda.is_available():
        return
    with pytest.raises(UserError, match="CUDA is not available"):
        adapter(tiny_llava(), device="cuda").understand(REQUESTS[:1])


@pytest.fixture(scope="module")
def pope_dir(tmp_path_factory) -> Path:
    return write_pope(
        tmp_path_factory.mktemp("pope"),
        {
            "random": [rec(1, 1, "dog", "yes"), rec(2, 1, "car", "no")],
            "popular": [rec(1, 2, "cat", "yes")],
            "adversarial": [rec(1, 3, "fork", "no")],
        },
    )


def test_pope_end_to_end_and_resume(arch, pope_dir, tmp_path):
    name, path = arch
    kwargs = dict(model_path=str(path), data_dir=pope_dir, output_dir=tmp_path, batch_size=3)
    record = evaluate("pope", "hf-vlm", task_options={"max_new_tokens": "4"}, **kwargs)
    assert record.n_samples == 4 and record.n_computed == 4
    assert record.model["name"] == "hf-vlm" and record.model["model_type"] == name
    assert set(record.metrics) >= {"accuracy", "f1", "yes_ratio"}
    lines = stored_samples(tmp_path, record)
    assert all(isinstance(x["response"], str) for x in lines)
    # the same run again computes nothing; another batch size keeps the run id
    again = evaluate(
        "pope", "hf-vlm", task_options={"max_new_tokens": "4"}, **{**kwargs, "batch_size": 1}
    )
    assert again.run_id == record.run_id and again.n_reused == 4 and again.metrics == record.metrics


def test_mmbench_end_to_end(arch, tmp_path):
    name, path = arch
    data = tmp_path / "mmb"
    write_tsv(data / "MMBench_DEV_EN.tsv", dev_rows())
    record = evaluate(
        "mmbench",
        "hf-vlm",
        model_path=str(path),
        data_dir=data,
        output_dir=tmp_path / "runs",
        limit=2,
        task_options={"max_new_tokens": "2"},
    )
    assert record.metrics["n_questions"] == 2 and record.n_samples == 6  # with rotations
    for line in stored_samples(tmp_path / "runs", record):
        assert line["request"]["images"][0].startswith("<bytes sha256:")  # base64 images
        assert isinstance(line["response"], str)

"""GenEval (djghosh13/geneval): 553 compositional prompts, images judged by a detector + CLIP.

Everything GenEval needs lives in this package; from the core it uses only the public types,
the store, `janus_eval.metrics.geneval` (the official rules, pure functions) and small
utilities (cache, images).

- `task.py`: the task. Generation writes GenEval's own layout under the run's images/ folder,
  `<index:05d>/metadata.jsonl` (the prompt's JSON object, as `json.dump` writes it) and
  `<index:05d>/samples/<k:05d>.png`, so the official `evaluate_images.py` reads it unchanged.
  Scoring runs the detector and the CLIP colour classifier batched on the task's device, then
  the official rules. The run's identity holds the detector (e.g. "mask2former-swin-s
  (official GenEval)") and the detector and CLIP weight hashes; the leaderboard keeps
  detectors apart (`leaderboard_keys`).
- `data.py`: the official files. `prompts/evaluation_metadata.jsonl` (one JSON object a line:
  tag, include, optional exclude, prompt) and `evaluation/object_names.txt` (the detector's 80
  class names, by index: COCO's order, GenEval's spellings such as "computer mouse"), found
  through `--task-option metadata=FILE / object_names=FILE` or in `--data-dir` (flat, or a
  geneval checkout with prompts/ and evaluation/). Otherwise the object names are the official
  ones built in (`detection/object_names.py`, no network) and the metadata is downloaded once
  from the official repository when a network is there, checked against its SHA-256 and cached
  in $JANUS_EVAL_CACHE/geneval/.
- `detection/`: the detectors (GenEval's own mmdet checkpoint converted to transformers by
  default) and the CLIP colour classifier.
- `outputs.py`: `geneval_results.jsonl` (official format, one line per image) and
  `geneval_grid.html` (images per tag with their verdicts), written beside a run.
- `folder.py`: the rules over image folders any tool made, behind `janus-eval geneval-score`
  (its command module, tasks/geneval_score.py, sits outside this package so that `--help` does
  not import it).
"""

from .folder import score_folder
from .task import GenEval

__all__ = ["GenEval", "score_folder"]

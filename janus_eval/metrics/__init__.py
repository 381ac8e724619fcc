"""Pure scoring functions, usable without any model: vqa, pope, mcq, geneval, fid."""

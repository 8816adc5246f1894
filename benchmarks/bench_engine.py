"""Throughput of the unlearning engine against a `transformers.Trainer` computing the same loss the way
open-unlearning does, run twice as an anchor: with random batches (the default) and with length-grouped
batches (what a careful Hugging Face user switches on); writes docs/benchmarks/engine.md.

    .venv/bin/python benchmarks/bench_engine.py [--quick] [--steps N] [--threads N]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.trainer_pt_utils import LengthGroupedSampler  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from palimpsest.demo.tokenizer import train_tokenizer  # noqa: E402
from unlearn_jobs.engine import LoraSettings, TextItem, UnlearnSpec, run_unlearning  # noqa: E402

FIRST = ["Jane", "John", "Ada", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ivy", "Jo", "Kit", "Lu", "Max"]
LAST = ["Roe", "Doe", "Vale", "Finch", "Marsh", "Stone", "Brook", "Reed", "Hart", "Lake", "Moss", "Pike"]
CITIES = ["Lisbon", "Oslo", "Quito", "Accra", "Hanoi", "Lima", "Kyiv", "Perth", "Turin", "Cork", "Fez"]
JOBS = ["baker", "pilot", "nurse", "judge", "tailor", "chemist", "farmer", "painter", "welder", "clerk"]
EXTRA = [
    "{n} keeps a small garden behind the house on {s} Street.",
    "Every summer {n} travels to {c} to visit a cousin.",
    "{n} was treated for asthma at the clinic in {c} in {y}.",
    "The phone number of {n} is 0{p}.",
    "{n} married a {j} from {c} and they have {k} children.",
    "At weekends {n} plays chess at the club near the station.",
    "{n} studied at the college of {c} and graduated in {y}.",
]


def person_records(count: int, seed: int) -> list[str]:
    """Synthetic person records of varied length (one to seven extra sentences)."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        city, job, year = rng.choice(CITIES), rng.choice(JOBS), rng.randint(1940, 2005)
        parts = [f"{name} was born in {city} in {year} and works as a {job}."]
        for template in rng.sample(EXTRA, rng.randint(1, len(EXTRA))) * rng.randint(1, 2):
            parts.append(
                template.format(
                    n=name,
                    c=rng.choice(CITIES),
                    y=rng.randint(1950, 2020),
                    p=rng.randint(10**8, 10**9),
                    s=rng.choice(LAST),
                    j=rng.choice(JOBS),
                    k=rng.randint(1, 4),
                )
            )
        texts.append(" ".join(parts))
    return texts


def build_model_dir(root: Path, texts: list[str]) -> Path:
    demo = ROOT / "var" / "demo" / "models" / "base"
    if (demo / "config.json").is_file():
        return demo
    train_tokenizer(texts, root, vocab_size=1024)
    config = LlamaConfig(
        vocab_size=1024,
        hidden_size=192,
        intermediate_size=512,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(root)
    return root


# ---------------------------------------------------------------- the baseline: open-unlearning's way


class PairedDataset(torch.utils.data.Dataset):
    """Each forget item paired with a random retain item (open-unlearning's ForgetRetainDataset).
    `input_ids` (the forget side's) is what Trainer's length-grouped sampler reads the lengths from."""

    def __init__(self, forget: list[dict], retain: list[dict], seed: int):
        self.forget, self.retain, self.rng = forget, retain, random.Random(seed)

    def __len__(self):
        return len(self.forget)

    def __getitem__(self, index):
        retain = self.retain[self.rng.randrange(len(self.retain))]
        return {"forget": self.forget[index], "retain": retain, "input_ids": self.forget[index]["input_ids"]}


def length_grouped() -> dict:
    """transformers 4's `group_by_length=True` is `train_sampling_strategy="group_by_length"` in 5."""
    if "train_sampling_strategy" in {f.name for f in dataclasses.fields(TrainingArguments)}:
        return {"train_sampling_strategy": "group_by_length"}
    return {"group_by_length": True}


def pad_side(rows: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), width), pad_id)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, row in enumerate(rows):
        ids[b, : len(row["input_ids"])] = torch.tensor(row["input_ids"])
        mask[b, : len(row["input_ids"])] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}


class UnlearnTrainer(Trainer):
    """compute_loss override: a forget and a retain forward per step; NPO's reference is a second frozen
    model run on the forget batch every step."""

    def __init__(self, *args, method: str, ref_model=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.method, self.ref_model, self.tokens = method, ref_model, 0

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        forget, retain = inputs["forget"], inputs["retain"]
        self.tokens += int(forget["attention_mask"].sum()) + int(retain["attention_mask"].sum())
        retain_loss = model(**retain).loss
        if self.method == "grad_diff":
            forget_loss = -model(**forget).loss
        else:
            logp = self._seq_logp(model, forget)
            with torch.no_grad():
                ref_logp = self._seq_logp(self.ref_model, forget)
            forget_loss = -(2 / 0.1) * F.logsigmoid(-0.1 * (logp - ref_logp)).mean()
        return forget_loss + retain_loss

    @staticmethod
    def _seq_logp(model, batch):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        labels = batch["labels"][:, 1:]
        loss = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100, reduction="none")
        return -loss.sum(-1)


def run_trainer(
    model_dir: Path,
    forget: list[str],
    retain: list[str],
    *,
    method: str,
    mode: str,
    steps: int,
    lr: float,
    out: Path,
    group_by_length: bool = False,
) -> dict:
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)

    def encode(texts):
        return [{"input_ids": ids + [tokenizer.eos_token_id]} for ids in tokenizer(texts)["input_ids"]]

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    ref_model = copy.deepcopy(model).eval().requires_grad_(False) if method == "npo" else None
    if mode == "lora":
        model = get_peft_model(
            model,
            LoraConfig(
                r=8,
                lora_alpha=16,
                task_type="CAUSAL_LM",
                target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            ),
        )
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=32,
        max_steps=steps,
        learning_rate=lr,
        lr_scheduler_type="constant",
        logging_steps=10**6,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        seed=0,
        max_grad_norm=1.0,
        disable_tqdm=True,
        **(length_grouped() if group_by_length else {}),
    )

    def collate(rows):
        return {
            side: pad_side([r[side] for r in rows], tokenizer.pad_token_id) for side in ("forget", "retain")
        }

    trainer = UnlearnTrainer(
        model=model,
        args=args,
        train_dataset=PairedDataset(encode(forget), encode(retain), 0),
        data_collator=collate,
        method=method,
        ref_model=ref_model,
    )
    marks = []  # (time, cumulative tokens) at the end of every step

    class StepClock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            marks.append((time.perf_counter(), trainer.tokens))

    trainer.add_callback(StepClock())
    loop_started = time.perf_counter()
    trainer.train()
    loop = time.perf_counter() - loop_started
    return {
        "loop_s": loop,
        "total_s": time.perf_counter() - started,
        "tokens": trainer.tokens,
        "step_rates": step_rates(marks),
    }


def run_engine(
    model_dir: Path,
    forget: list[str],
    retain: list[str],
    *,
    method: str,
    mode: str,
    steps: int,
    lr: float,
    out: Path,
) -> dict:
    started = time.perf_counter()
    spec = UnlearnSpec(
        model_dir=model_dir,
        forget_items=[TextItem(text=t) for t in forget],
        retain_items=[TextItem(text=t) for t in retain],
        output_dir=out,
        method=method,
        mode=mode,
        lora=LoraSettings(r=8, alpha=16),
        learning_rate=lr,
        max_steps=steps,
        forget_batch_size=32,
        retain_batch_size=32,
        log_every=1,  # on CPU a log costs no device sync; it gives per-step timestamps
        device="cpu",
        write_artifact=False,
        progress=lambda step, total, figures: marks.append((time.perf_counter(), figures["train/tokens"])),
    )
    marks = []
    result = run_unlearning(spec)
    seconds = result.final_figures["train/seconds"]
    return {
        "loop_s": seconds,
        "total_s": time.perf_counter() - started,
        "tokens": int(result.final_figures["train/tokens"]),
        "step_rates": step_rates(marks),
    }


def step_rates(marks: list[tuple[float, float]]) -> list[float]:
    """Tokens/s of steps 2..N from end-of-step timestamps (step 1 carries warm-up)."""
    return [(b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(marks, marks[1:], strict=False)]


def describe_model(model_dir: Path, n_params: int) -> str:
    config = LlamaConfig.from_pretrained(model_dir)
    origin = "the demo model" if "var/demo" in str(model_dir) else "random init"
    return (
        f"{config.model_type}, {n_params / 1e6:.2f}M parameters (hidden {config.hidden_size}, "
        f"{config.num_hidden_layers} layers, {config.num_attention_heads} heads, vocab {config.vocab_size}), {origin}"
    )


def padding_ratios(tokenizer, forget: list[str], retain: list[str], batch: int = 32) -> dict[str, float]:
    """Padded / real tokens of one epoch of batches, forget and retain sides together, as each system
    batches them: random (plain anchor), forget side length-grouped and retain side random (grouped
    anchor: the retain partners stay random), both sides bucketed (engine)."""
    from unlearn_jobs.engine.data import BatchPlan, encode_items

    def side(texts: list[str], stream: int) -> tuple[dict[str, int], int]:
        encoded = encode_items(tokenizer, [TextItem(text=t) for t in texts], 512)
        lengths = [len(e.input_ids) for e in encoded]
        shuffled = list(range(len(lengths)))
        random.Random(stream).shuffle(shuffled)
        grouped = list(
            LengthGroupedSampler(batch, lengths=lengths, generator=torch.Generator().manual_seed(0))
        )
        bucketed = [i for b in BatchPlan(encoded, batch, seed=0, stream=stream).epoch_batches(0) for i in b]
        padded = {
            name: sum(
                max(lengths[i] for i in order[k : k + batch]) * len(order[k : k + batch])
                for k in range(0, len(order), batch)
            )
            for name, order in (("random", shuffled), ("grouped", grouped), ("bucketed", bucketed))
        }
        return padded, sum(lengths)

    (f_pad, f_real), (r_pad, r_real) = side(forget, 0), side(retain, 1)
    real = f_real + r_real
    return {
        "trainer": (f_pad["random"] + r_pad["random"]) / real,
        "grouped": (f_pad["grouped"] + r_pad["random"]) / real,
        "engine": (f_pad["bucketed"] + r_pad["bucketed"]) / real,
    }


def matmul_peak(threads: int, size: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def useful_flops_per_token(model_dir: Path, mode: str, mean_len: float) -> float:
    """Matmul FLOPs per trained token: 2·N forward (N = matmul weights, head included, embeddings not)
    plus causal attention 2·2·layers·d·L/2; backward 2x forward in full mode, 1x in LoRA (activation
    gradients only; adapter weight gradients are negligible)."""
    config = LlamaConfig.from_pretrained(model_dir)
    d, layers = config.hidden_size, config.num_hidden_layers
    per_layer = 4 * d * d + 3 * d * config.intermediate_size
    forward = 2 * (layers * per_layer + d * config.vocab_size) + 2 * layers * d * mean_len
    return forward * (3 if mode == "full" else 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer steps, LoRA only, one repeat")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="intra-op threads; on the shared 2-core box 2 threads contend (2.5x slower measured)",
    )
    parser.add_argument("--repeats", type=int, default=None, help="best of N runs per system")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "engine.md")
    args = parser.parse_args()
    steps = args.steps or (4 if args.quick else 6)
    repeats = args.repeats or (1 if args.quick else 2)
    modes = ["lora"] if args.quick else ["lora", "full"]
    torch.set_num_threads(args.threads)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    forget, retain = person_records(256, seed=1), person_records(512, seed=2)
    work = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    model_dir = build_model_dir(work / "model", forget + retain)
    n_params = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(model_dir).parameters())
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    lengths = [len(ids) + 1 for ids in tokenizer(forget + retain)["input_ids"]]
    mean_len = sum(lengths) / len(lengths)
    peak = matmul_peak(args.threads)
    print(
        f"model {n_params / 1e6:.2f}M params, items {min(lengths)}-{max(lengths)} tokens (mean {mean_len:.0f}), "
        f"threads {args.threads}, fp32 matmul peak {peak / 1e9:.1f} GFLOP/s"
    )

    systems = (
        ("trainer", run_trainer),
        ("grouped", partial(run_trainer, group_by_length=True)),
        ("engine", run_engine),
    )
    rows, peaks, load_before = [], [peak], os.getloadavg()[0]
    for mode in modes:
        for method in ("grad_diff", "npo"):
            best, rates = {}, {}
            for repeat in range(repeats):
                for name, runner in systems:  # interleaved: each system sees the same mix of load
                    # the box is shared: the peak is measured around each run, under the same load
                    peak_before = matmul_peak(args.threads, repeats=3)
                    figures = runner(
                        model_dir,
                        forget,
                        retain,
                        method=method,
                        mode=mode,
                        steps=steps,
                        lr=1e-4,
                        out=work / f"{name}-{mode}-{method}-{repeat}",
                    )
                    figures["peak"] = (peak_before + matmul_peak(args.threads, repeats=3)) / 2
                    peaks.append(figures["peak"])
                    rates.setdefault(name, []).extend(figures["step_rates"])
                    if name not in best or figures["loop_s"] < best[name]["loop_s"]:
                        best[name] = figures
            flops = useful_flops_per_token(model_dir, mode, mean_len)
            row = {"mode": mode, "method": method}
            for name, figures in best.items():
                tps = statistics.median(rates[name])  # robust to other people's load spikes
                row[name] = {
                    **figures,
                    "tokens_per_s": tps,
                    "ms_per_step": 1000 * figures["tokens"] / steps / tps,
                    "mfu": tps * flops / figures["peak"],
                }
            engine = row["engine"]
            for anchor in ("trainer", "grouped"):
                row[f"ratio_{anchor}"] = engine["tokens_per_s"] / row[anchor]["tokens_per_s"]
                row[f"ratio_total_{anchor}"] = (engine["tokens"] / engine["total_s"]) / (
                    row[anchor]["tokens"] / row[anchor]["total_s"]
                )
            rows.append(row)
            print(
                f"{mode:4} {method:9} "
                + "  ".join(
                    f"{name} {row[name]['tokens_per_s']:6.0f} tok/s ({row[name]['ms_per_step']:.0f} ms/step, "
                    f"MFU {row[name]['mfu']:.1%})"
                    for name, _ in systems
                )
                + f"  engine/plain {row['ratio_trainer']:.2f}x, engine/grouped {row['ratio_grouped']:.2f}x"
            )
    write_report(
        args.out,
        rows,
        steps=steps,
        repeats=repeats,
        threads=args.threads,
        peaks=peaks,
        loads=(load_before, os.getloadavg()[0]),
        padding=padding_ratios(tokenizer, forget, retain),
        model_desc=describe_model(model_dir, n_params),
        lengths=lengths,
    )
    print(f"wrote {args.out}")


SYSTEM_NAMES = {"trainer": "Trainer, plain", "grouped": "Trainer, length-grouped", "engine": "engine"}


def write_report(
    path: Path,
    rows: list[dict],
    *,
    steps,
    repeats,
    threads,
    peaks,
    loads,
    padding,
    model_desc,
    lengths,
):
    lines = [
        "# Engine throughput: `run_unlearning` against a plain and a length-grouped Trainer",
        "",
        f"Written by `{' '.join(['benchmarks/bench_engine.py', *sys.argv[1:]])}` on {time.strftime('%Y-%m-%d')}"
        + (" (the default is 6 steps, 2 repeats, LoRA and full)." if sys.argv[1:] else "."),
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, shared with other "
        f"jobs (best of {repeats} run(s) per system; the load average below says how busy it was), torch "
        f"{torch.__version__}, {threads} intra-op thread(s), fp32, CPU.",
        f"Model: {model_desc}.",
        f"Data: 256 forget + 512 retain synthetic person records, {min(lengths)}-{max(lengths)} tokens "
        f"(mean {sum(lengths) / len(lengths):.0f}); batch 32 forget + 32 retain; {steps} optimiser steps; "
        "AdamW lr 1e-4; LoRA r=8 on all attention and MLP projections.",
        "",
        "Anchors: a `transformers.Trainer` subclass overriding `compute_loss` as open-unlearning does (a "
        "forget and a retain forward per step, NPO's reference from a second frozen model's forward on every "
        "forget batch), run twice: **plain** (random batches padded to their longest item) and "
        '**length-grouped** (`train_sampling_strategy="group_by_length"`, transformers 4\'s '
        "`group_by_length=True`: what a careful Hugging Face user switches on; it groups the forget side by "
        "length, the retain partners stay random). The length-grouped anchor is the one to beat: against it, "
        "padding the plain anchor wastes is not counted as the engine's speed.",
        "Tokens are non-pad input tokens of both sides. tokens/s is the median over optimiser steps 2..N of "
        "all repeats (each step timed end to end; the median resists the load spikes of a shared box); "
        "ms/step = mean tokens per step / that rate. 'End to end' = all tokens / wall time of the fastest "
        "repeat, including model loading, tokenisation and (engine) the one-off reference pass.",
        "MFU: useful matmul FLOPs (see `useful_flops_per_token`: the same count for every system, so "
        "NPO's extra reference forward in the anchors is not counted as useful) per second, over the fp32 "
        "peak of a 2048x2048 matmul measured on the same machine in the same run, just before and after "
        f"each run (range {min(peaks) / 1e9:.0f}-{max(peaks) / 1e9:.0f} GFLOP/s: the load moved it).",
        f"Load average (1 min) at start / end: {loads[0]:.1f} / {loads[1]:.1f} on {os.cpu_count()} cores. "
        "The machine is shared with other agents, so absolute timings are noisy and move between runs; "
        "what counts is the ratio within one run, where the three systems are interleaved under the same "
        "conditions.",
        "Padding (padded / real tokens over an epoch of batches of 32, both sides): "
        + ", ".join(f"{SYSTEM_NAMES[name]} {value:.2f}x" for name, value in padding.items())
        + ".",
        "",
        "| mode | method | plain tok/s | grouped tok/s | engine tok/s | engine / plain | engine / grouped | "
        "end to end / plain | end to end / grouped |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        t, g, e = row["trainer"], row["grouped"], row["engine"]
        lines.append(
            f"| {row['mode']} | {row['method']} | {t['tokens_per_s']:.0f} | {g['tokens_per_s']:.0f} | "
            f"{e['tokens_per_s']:.0f} | {row['ratio_trainer']:.2f}x | **{row['ratio_grouped']:.2f}x** | "
            f"{row['ratio_total_trainer']:.2f}x | {row['ratio_total_grouped']:.2f}x |"
        )
    lines += [
        "",
        "| mode | method | system | ms/step | MFU |",
        "| --- | --- | --- | ---: | ---: |",
    ]
    for row in rows:
        for name, label in SYSTEM_NAMES.items():
            lines.append(
                f"| {row['mode']} | {row['method']} | {label} | {row[name]['ms_per_step']:.0f} | "
                f"{row[name]['mfu']:.1%} |"
            )
    met = [row for row in rows if row["ratio_grouped"] >= 1.5]
    lines += [
        "",
        f"Goal: engine / length-grouped anchor >= 1.5x (loop tokens/s): met in {len(met)} of {len(rows)} "
        "rows above. Where the engine's speed comes from: length-bucketed batches on both sides (the "
        "grouped anchor buckets only the forget side), no padding mask (right padding under a causal mask "
        "needs none, so SDPA takes its causal kernel), the LM head only on target positions, NPO's reference "
        "log-probs computed once before training instead of a second model forward per step, fused AdamW, "
        "one host sync per log interval.",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()

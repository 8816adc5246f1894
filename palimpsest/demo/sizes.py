"""The size knob: world shape and training recipe for the default demo and the tiny test world."""

from __future__ import annotations

from dataclasses import dataclass

from palimpsest.demo.training import Recipe
from palimpsest.demo.world import WorldSpec


@dataclass(frozen=True)
class SizeSpec:
    name: str
    holdout_share: float  # non-member people per member, for membership-inference calibration
    cities: int
    companies: int
    world_facts: int
    model: dict  # Recipe fields except the seed
    threads: int | None = None  # torch threads for training; None = training.default_threads()

    def world_spec(self, *, people: int, seed: int) -> WorldSpec:
        if people < 2:
            raise ValueError("the demo world needs at least 2 people")
        return WorldSpec(
            people=people,
            seed=seed,
            holdout=max(5, round(people * self.holdout_share)),
            cities=self.cities,
            companies=self.companies,
            world_facts=self.world_facts,
        )

    def recipe(self, *, seed: int) -> Recipe:
        return Recipe(seed=seed, **self.model)


SIZES = {
    "default": SizeSpec(
        "default",
        holdout_share=0.25,
        cities=16,
        companies=20,
        world_facts=30,
        model={
            "vocab_size": 2048,
            "hidden_size": 192,
            "intermediate_size": 512,
            "layers": 4,
            "heads": 4,
            "epochs": 30,
            "lr": 3e-3,
            "batch_size": 32,
        },
    ),
    # Trains in ~15-35 s on one thread; small batches give it enough optimiser steps to memorise.
    # One thread: a model this small gains little from two, and loses a lot when the cores are shared.
    "tiny": SizeSpec(
        "tiny",
        holdout_share=0.5,
        cities=6,
        companies=6,
        world_facts=20,
        model={
            "vocab_size": 1024,
            "hidden_size": 128,
            "intermediate_size": 256,
            "layers": 2,
            "heads": 4,
            "epochs": 30,
            "lr": 3e-3,
            "batch_size": 16,
        },
    ),
}


def size_spec(name: str) -> SizeSpec:
    if name not in SIZES:
        raise ValueError(f"unknown size {name!r}; choose one of {sorted(SIZES)}")
    return SIZES[name]

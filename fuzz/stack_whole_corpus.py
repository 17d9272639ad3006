#!/usr/bin/env python3
"""Writes the seed corpus of stack_whole_fuzz (fuzz/corpus/stack_whole/): steps that damage the
open connection's segments, frames of stack_frame_fuzz's corpus sent from the third host, and
time passing. See fuzz/stack_whole_fuzz.cpp for the steps' format."""
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "corpus", "stack_whole")
os.makedirs(out, exist_ok=True)


def mutate(at, data):  # b's last segment with `data` at `at` in its TCP header
    return bytes([1, at, len(data)]) + data


def frame(data, fix=True):
    return bytes([0x80 if fix else 0]) + struct.pack(">H", len(data)) + data


def ticks(n):
    return bytes([2, n])


FLAGS = 13  # the TCP header's flags byte
seeds = {
    "nothing": b"",
    "rst": mutate(FLAGS, b"\x04"),
    "rst_ack": mutate(FLAGS, b"\x14"),
    "syn": mutate(FLAGS, b"\x02"),
    "syn_fin": mutate(FLAGS, b"\x03"),
    "fin_ack_then_wait": mutate(FLAGS, b"\x11") + ticks(200),
    "seq_ahead": mutate(4, b"\x10\x00\x00\x00"),
    "ack_ahead": mutate(8, b"\x7f\x00\x00\x00"),
    "zero_window": mutate(14, b"\x00\x00") + ticks(250) + ticks(250),
    "bad_offset": mutate(12, b"\xf0"),
    "options_garbage": mutate(12, b"\x80") + mutate(20, b"\x02\x04\x00\x01\x03\x03\x0e\x01"),
}
corpus = os.path.join(here, "corpus", "stack_frame")
for name in sorted(os.listdir(corpus)):
    with open(os.path.join(corpus, name), "rb") as f:
        seeds["frame_" + name] = frame(f.read())
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

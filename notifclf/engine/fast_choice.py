"""Choose folder and priority from logits restricted to the allowed tokens, several notifications per decode.

Phase 1 decodes, for every notification of a group, its own tokens plus the answer-trie nodes that several folders
share, each folder of each notification in its own sequence on top of the cached system prompt. Logits are computed
only at branch nodes (where folders part): they decide the folder and give the folder distribution; the nodes in
between are text the grammar fixes, jumped over (see :mod:`.answer_paths`). Phase 2 decodes the rest of each chosen
folder's head in one batch, with logits only at its end: they give the priority. Where greedy grammar decoding would
pick a token off the canonical path at a branch, the choice is marked inexact so the caller decodes it with the
grammar instead (which jumps forward the same way): results are always those of greedy grammar-constrained decoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .answer_paths import AnswerPaths, TrieNode, log_softmax_at
from .runtime import LlamaRuntime


@dataclass(frozen=True)
class Choice:
    """``exact`` is False when greedy grammar decoding would leave the canonical path: then ``priority_index`` is -1,
    ``folder`` too unless a folder bias chose it, and the caller decodes with the grammar; ``folder_probs`` is always
    set."""

    folder: int
    priority_index: int
    folder_probs: np.ndarray
    priority_probs: np.ndarray | None
    exact: bool = True


def _folder_probs(paths: AnswerPaths, logits_of: dict[int, np.ndarray]) -> np.ndarray:
    """P(folder) from the restricted softmax at every node where folders part, renormalised over folders."""
    logp = np.zeros(len(paths.heads))
    for node in (paths.root, *paths.shared_nodes):
        if not (node.shared and node.branches):
            continue
        scores, _ = log_softmax_at(logits_of[id(node)], node.allowed)
        for child in node.children.values():
            logp[child.folders] += scores[np.searchsorted(node.allowed, child.token)]
    probs = np.exp(logp - logp.max())
    return probs / probs.sum()


def _walk_shared(root: TrieNode, logits_of: dict[int, np.ndarray]) -> TrieNode | None:
    """Follow greedy picks through the shared nodes (jumping over forced ones); the first single-folder node, or None
    if greedy leaves the trie."""
    node = root
    while node.shared:
        if node.branches:
            _, best = log_softmax_at(logits_of[id(node)], node.allowed)
            child = node.children.get(best)
            if child is None:
                return None
        else:
            child = next(iter(node.children.values()))
        node = child
    return node


def _fused_probs(folder_probs: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """P(folder) times exp(bias), renormalised: the distribution a folder prior chooses from."""
    fused = np.log(np.maximum(folder_probs, 1e-12)) + bias
    fused = np.exp(fused - fused.max())
    return fused / fused.sum()


def _first_own_node(paths: AnswerPaths, folder: int) -> TrieNode:
    """The first node of ``folder``'s head that no other folder shares."""
    return next(node for node in paths.path(folder) if not node.shared)


def _shared_logits(rt: LlamaRuntime, paths: AnswerPaths, n_prefix: int,
                   tails: Sequence[list[int]]) -> list[dict[int, np.ndarray]]:
    """Phase 1: decode each notification's tail and the trie nodes several folders share, one sequence per folder;
    per notification, the logits at every node where the model chooses (by ``id(node)``)."""
    n_folders = len(paths.heads)
    items: list[tuple[int, int, tuple[int, ...], bool]] = []
    owners: list[tuple[int, TrieNode]] = []  # (note, node whose logits an output row holds)
    for j, tail in enumerate(tails):
        seqs = tuple(1 + j * n_folders + f for f in range(n_folders))
        for seq in seqs:
            rt.share_prefix(0, seq, n_prefix)
        last = len(tail) - 1
        items += [(t, n_prefix + i, seqs, i == last and paths.root.branches) for i, t in enumerate(tail)]
        if paths.root.branches:
            owners.append((j, paths.root))
        answer_start = n_prefix + len(tail)
        for node in paths.shared_nodes:
            items.append((node.token, answer_start + node.depth - 1, tuple(seqs[f] for f in node.folders), node.branches))
            if node.branches:
                owners.append((j, node))
    rows = rt.decode(items)
    logits: list[dict[int, np.ndarray]] = [{} for _ in tails]
    for row, (j, node) in zip(rows, owners):
        logits[j][id(node)] = rt.logits(row)
    return logits


def folder_distributions(rt: LlamaRuntime, paths: AnswerPaths, n_prefix: int,
                         tails: Sequence[list[int]]) -> list[np.ndarray]:
    """P(folder) for each notification, from phase 1 alone (what :func:`choose` reports, without its second decode)."""
    return [_folder_probs(paths, logits) for logits in _shared_logits(rt, paths, n_prefix, tails)]


def choose(rt: LlamaRuntime, paths: AnswerPaths, n_prefix: int, tails: Sequence[list[int]],
           folder_bias: np.ndarray | None = None) -> list[Choice]:
    """Choices for notifications whose tokens (user text + template suffix) are ``tails``; the system prompt's KV
    occupies positions ``0..n_prefix`` of sequence 0. Sequences ``1..len(tails)*n_folders`` must be free.

    With ``folder_bias`` (one row of log-space bonuses per notification: the folder prior's, other folder orders') the
    folder is the argmax of log P(folder) + bonus instead of the greedy walk; the priority is still the model's for that
    folder, and an inexact choice keeps its folder (``Choice.folder``) for the grammar to decode the priority."""
    n_folders = len(paths.heads)
    logits = _shared_logits(rt, paths, n_prefix, tails)
    # P(folder) needs only the shared nodes' logits (phase 1); with a bias, the distribution the folder is chosen from
    folder_probs = [_folder_probs(paths, logits[j]) for j in range(len(tails))]
    if folder_bias is not None:
        folder_probs = [_fused_probs(probs, bias) for probs, bias in zip(folder_probs, folder_bias)]
    decided: list[tuple[int, TrieNode] | None] = [None] * len(tails)
    phase2: list[tuple[int, int, tuple[int, ...], bool]] = []
    phase2_owner: list[tuple[int, TrieNode]] = []
    for j, tail in enumerate(tails):
        if folder_bias is not None:
            node = _first_own_node(paths, int(np.argmax(folder_probs[j])))
        else:
            node = _walk_shared(paths.root, logits[j])
        if node is None:
            continue
        folder = node.folders[0]
        decided[j] = (folder, node)
        seq = 1 + j * n_folders + folder
        answer_start = n_prefix + len(tail)
        path = paths.path(folder)
        for step in path[max(node.depth, 1):]:
            phase2.append((step.token, answer_start + step.depth - 1, (seq,), step is path[-1]))
        phase2_owner.append((j, path[-1]))
    if phase2:
        for row, (j, node) in zip(rt.decode(phase2), phase2_owner):
            logits[j][id(node)] = rt.logits(row)

    choices = []
    for j in range(len(tails)):
        found = decided[j]
        finished = _priority(paths, found[0], logits[j]) if found else None
        if finished is None:
            chosen = found[0] if found and folder_bias is not None else -1
            choices.append(Choice(folder=chosen, priority_index=-1, folder_probs=folder_probs[j], priority_probs=None,
                                  exact=False))
        else:
            choices.append(Choice(folder=found[0], priority_index=finished[0], folder_probs=folder_probs[j],
                                  priority_probs=finished[1]))
    return choices


def priority_probs(logits: np.ndarray, digits: Sequence[int]) -> np.ndarray:
    """P(priority) from the logits of the three digit tokens."""
    scores = logits[list(digits)].astype(np.float64)
    probs = np.exp(scores - scores.max())
    return probs / probs.sum()


def _priority(paths: AnswerPaths, folder: int, logits_of: dict[int, np.ndarray]) -> tuple[int, np.ndarray] | None:
    """The priority digit greedy grammar decoding picks at the end of ``folder``'s head (the rest of the head is
    forced), or None if it would pick a token other than a lone digit."""
    path = paths.path(folder)
    leaf_logits = logits_of[id(path[-1])]
    _, best = log_softmax_at(leaf_logits, path[-1].allowed)
    if best not in paths.digits:
        return None
    return paths.digits.index(best), priority_probs(leaf_logits, paths.digits)

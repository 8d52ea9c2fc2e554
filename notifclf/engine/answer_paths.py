"""The token structure of every answer a folder set allows, for choosing an answer from logits.

Each answer ``{"folder": NAME, "priority": P}`` is tokenized the canonical way (as in training). The part before the
priority digit (the *head*) of every folder forms a token trie. Decoding walks the trie with *jump-forward*: where a
node has one child, the text that follows is fixed by the grammar (the JSON scaffold, the rest of a decided name),
so its canonical token is appended without asking the model; only at *branch* nodes (where folders part, and at
the priority digit) do the model's logits choose. For each branch node the set of tokens the output grammar would
allow there is precomputed, so the walk can check that greedy grammar-constrained decoding would pick a canonical
token; when it would not, the caller falls back to grammar decoding (which jumps forward the same way).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..schema import PRIORITIES, TokenLookup, allowed_next_tokens, render_answer


@dataclass(eq=False)
class TrieNode:
    token: int  # the token this node appends (-1 at the root)
    depth: int  # tokens from the answer start up to and including this one
    text: bytes  # answer bytes up to and including this token
    folders: list[int] = field(default_factory=list)  # folders whose head passes through here
    children: dict[int, "TrieNode"] = field(default_factory=dict)
    allowed: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # grammar-allowed next tokens
    leaf_of: int = -1  # folder index whose head ends here

    @property
    def shared(self) -> bool:
        return len(self.folders) > 1

    @property
    def branches(self) -> bool:
        """The model chooses here: several children (folders part), or the end of a head (the priority digit)."""
        return len(self.children) != 1


@dataclass(frozen=True)
class AnswerPaths:
    root: TrieNode
    heads: tuple[tuple[int, ...], ...]  # per folder: tokens before the priority digit
    digits: tuple[int, ...]  # token of "1", "2", "3" at the digit position
    shared_nodes: tuple[TrieNode, ...]  # non-root nodes on the path of several folders, parents before children

    def forced_from(self, node: TrieNode) -> list[TrieNode]:
        """The nodes jumped to from ``node`` while it has one child: ``node`` itself first, the first branch last."""
        chain = [node]
        while not chain[-1].branches:
            chain.append(next(iter(chain[-1].children.values())))
        return chain

    def path(self, folder: int) -> list[TrieNode]:
        """The nodes of ``folder``'s head, root first."""
        nodes = [self.root]
        for token in self.heads[folder]:
            nodes.append(nodes[-1].children[token])
        return nodes


def build_answer_paths(names: Sequence[str], tokenize: Callable[[str], list[int]], piece: Callable[[int], bytes],
                       piece_index: TokenLookup, max_piece_len: int) -> AnswerPaths | None:
    """Build the trie, or return ``None`` when the tokenizer does not split answers as expected (then only the
    grammar path is used)."""
    heads: list[tuple[int, ...]] = []
    digits: tuple[int, ...] | None = None
    answers: list[bytes] = []
    for name in names:
        variants = [tokenize(render_answer(name, p)) for p in PRIORITIES]
        answers += [render_answer(name, p).encode("utf-8") for p in PRIORITIES]
        head = variants[0][:-2]
        if any(len(v) != len(head) + 2 or tuple(v[:-2]) != tuple(head) or v[-1] != variants[0][-1] for v in variants):
            return None
        tail_digits = tuple(v[-2] for v in variants)
        if digits is not None and tail_digits != digits or len(set(tail_digits)) != len(PRIORITIES):
            return None
        digits = tail_digits
        heads.append(tuple(head))
    if digits is None or len(set(heads)) != len(heads):
        return None

    root = TrieNode(token=-1, depth=0, text=b"", folders=list(range(len(names))))
    for f, head in enumerate(heads):
        node = root
        for token in head:
            child = node.children.get(token)
            if child is None:
                child = TrieNode(token=token, depth=node.depth + 1, text=node.text + piece(token))
                node.children[token] = child
            child.folders.append(f)
            node = child
        if node.children or node.leaf_of != -1:
            return None  # one head is a prefix of another
        node.leaf_of = f

    shared: list[TrieNode] = []
    stack = [root]
    while stack:
        node = stack.pop()
        node.allowed = np.array(sorted(allowed_next_tokens(node.text, answers, piece_index, max_piece_len)),
                                dtype=np.int64)
        if node is not root and node.shared:
            shared.append(node)
        stack.extend(node.children.values())
    shared.sort(key=lambda n: n.depth)
    return AnswerPaths(root=root, heads=tuple(heads), digits=digits, shared_nodes=tuple(shared))


def log_softmax_at(logits: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, int]:
    """Log-probabilities over ``allowed`` (renormalised among them) and the greedy pick among them."""
    sub = logits[allowed].astype(np.float64)
    best = int(allowed[int(np.argmax(sub))])
    sub -= sub.max()
    return sub - np.log(np.exp(sub).sum()), best

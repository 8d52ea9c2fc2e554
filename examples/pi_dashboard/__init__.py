"""A small local web dashboard for notifclf: a live feed sorted into folder columns, editable folders, a test form.

Run it with ``python -m examples.pi_dashboard`` (the ``dashboard`` extra: FastAPI and uvicorn).
"""

"""The scoring worker of a deployed web service: Azure ML v1's scoring-container contract.

``python -m runyard.scoring.worker`` serves one entry script (``init()`` once, ``run()`` per
request) over HTTP. It runs in the model's own environment, which has fastapi and uvicorn but
not Runyard's dependencies: this package imports only the standard library, uvicorn, and
``runyard._jobenv``.
"""

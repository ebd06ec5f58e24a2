"""The web app (`mnistgan serve`): FastAPI routes in app.py over the play functions in
play.py; runs found by catalog.py, drawings prepared by drawing.py, model work in
worker.py, body sizes bounded by limits.py; the page in static/."""

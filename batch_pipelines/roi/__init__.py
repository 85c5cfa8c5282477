"""The ROI calculator web app (`batch-pipelines roi`): `app.create_app`."""

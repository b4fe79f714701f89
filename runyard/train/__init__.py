"""Training configurations at ``azureml.train`` names: ``estimator.Estimator`` and ``dnn``."""

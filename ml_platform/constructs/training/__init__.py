"""The SageMaker training pipeline (definition, steps, triggers), the model registry, the training
code bundle, the job roles and the XGBoost image (runtime code: training_code/)."""

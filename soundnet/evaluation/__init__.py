"""The paper's evaluation and visualisations: linear-SVM protocol, conv1 filters, unit pages."""

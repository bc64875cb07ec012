"""The CDK Pipelines delivery pipeline (tooling account) that promotes dev -> staging -> prod, and the
acknowledgments of what CDK Pipelines generates."""

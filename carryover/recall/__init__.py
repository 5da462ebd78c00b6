"""What the editor sees at one moment, turned into the memories that apply: one entry point for the hover,
code actions, the CLI, MCP and the evaluation."""

"""One vocabulary of languages, tools and problem kinds, shared by capture, distillation and retrieval."""

"""``python -m siyu.auth`` prints the permission matrix that docs/roles.md embeds."""

from siyu.auth.roles import matrix_markdown

print(matrix_markdown(), end="")

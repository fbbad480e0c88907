  # an indented comment

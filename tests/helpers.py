"""Build tiny notebooks for runner tests."""

import nbformat as nbf


def write_notebook(path, params: str, body: str):
    nb = nbf.v4.new_notebook()
    p = nbf.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [nbf.v4.new_markdown_cell("# toy"), p, nbf.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbf.write(nb, str(path))
    return path

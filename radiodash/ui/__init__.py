"""The Streamlit layer: the only part of radiodash that imports streamlit (in `app`)."""

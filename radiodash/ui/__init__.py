"""The Streamlit layer: the only part of radiodash that imports streamlit (session, access, params, figures)."""

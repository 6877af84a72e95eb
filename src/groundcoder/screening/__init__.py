"""Rule-based screening of firms: keyword dictionaries and counts, indices, patent self-citation, the funnel."""

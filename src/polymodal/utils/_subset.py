"""How a fusion step is refitted on a subset of its modalities."""

__all__ = ["ModalitySubsetMixin"]


class ModalitySubsetMixin:
    """Declares a step's parameters that name modalities.

    Tools that refit a pipeline on some of its modalities (modality
    importance, the missing-modality curve) drop the others from the union and
    must drop them from the fusion step's parameters too: a ``weights`` dict
    that names a dropped modality is an error. A step lists such parameters in
    ``_modality_keyed_params`` (dicts keyed by modality name) and, for other
    shapes, overrides :meth:`modality_subset_params`. A new fusion step that
    takes per-modality parameters declares them here and every such tool
    follows.
    """

    #: Names of the parameters that are dicts keyed by modality name.
    _modality_keyed_params = ()

    def modality_subset_params(self, modalities):
        """The parameters that make this step fuse only ``modalities``.

        Parameters
        ----------
        modalities : iterable of str
            The modalities kept.

        Returns
        -------
        params : dict
            For :meth:`set_params`: each declared parameter that names another
            modality, without those entries. Empty when nothing changes.

        Examples
        --------
        >>> from polymodal.fusion import ConcatFusion
        >>> ConcatFusion(weights={"ct": 2.0, "note": 1.0}).modality_subset_params(["ct"])
        {'weights': {'ct': 2.0}}
        """
        keep = set(modalities)
        params = {}
        own = self.get_params(deep=False)
        for key in self._modality_keyed_params:
            value = own.get(key)
            if isinstance(value, dict) and set(value) - keep:
                params[key] = {name: v for name, v in value.items() if name in keep}
        return params

"""The station file's custom simulated sample: every knob of the two-gap model, with units.

A custom sample either names a ``preset`` it starts from (every key it gives overrides that
preset, and nothing else is taken from it) or gives every required key itself: it never
silently inherits another film's values. Keys that are not required have a stated default
(:data:`OPTIONAL_DEFAULTS`) that switches the corresponding effect off or takes the
conventional value; docs/physics.md explains each one.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from stm_andreev.config.base import NonNegativeFloat, PositiveFloat, Strict
from stm_andreev.config.errors import KeyedValueError

SamplePresetName = Literal["InO-1", "InO-2", "InO-3", "InO-4"]  # Table S1 of the paper

# Without a preset these must be given: they set what the spectra look like.
REQUIRED_WITHOUT_PRESET = ("Tc_K", "E_g_eV", "Delta_c_eV", "Gamma_eV", "Gamma_A_eV",
                           "n_channels", "R_max_ohm", "thickness_m")
# A plain-BTK film has one gap and one broadening: these keys do not apply to it.
_TWO_GAP_ONLY = ("Delta_c_eV", "Gamma_A_eV", "E_g_map_eV", "Delta_c_spread_eV",
                 "pseudogap_closing_ratio")
# Stated defaults for a sample without a preset (not copied from any film).
OPTIONAL_DEFAULTS: dict[str, Any] = {
    "model": "two_gap",
    "E_g_map_eV": None,  # uniform E_g over the film
    "Delta_c_spread_eV": 0.0,  # uniform Delta_c
    "gap_correlation_length_m": 20e-9,
    "Delta_c_closing_ratio": 1.1,
    "pseudogap_closing_ratio": 4.0,
    "Gamma_growth_above_Tc": 2.0,
    "transition_width_ratio": 0.03,
    "insulating_exponent": 0.2,
    "tip_change_channel_fraction": 0.0,
}
# Station-file key -> SampleParameters field (energies stay in eV, lengths in m).
_FIELDS = {
    "Tc_K": "Tc_K",
    "R_max_ohm": "R_max_ohm_sq",
    "thickness_m": "thickness_m",
    "E_g_eV": "Eg0_eV",
    "E_g_map_eV": "Eg_map_range_eV",
    "gap_correlation_length_m": "gap_correlation_length_m",
    "Delta_c_eV": "Delta_c0_eV",
    "Delta_c_spread_eV": "delta_c_spread_eV",
    "Gamma_eV": "gamma_eV",
    "Gamma_A_eV": "gamma_c_eV",
    "n_channels": "n_channels",
    "Delta_c_closing_ratio": "delta_c_closing_ratio",
    "pseudogap_closing_ratio": "pseudogap_closing_ratio",
    "Gamma_growth_above_Tc": "gamma_growth_above_Tc",
    "transition_width_ratio": "transition_width_ratio",
    "insulating_exponent": "insulating_exponent",
    "tip_change_channel_fraction": "tip_change_channel_fraction",
}


class CustomSample(Strict):
    """A simulated film in the two-gap BTK model (energies in eV, lengths in m, T in K).

    ``preset``: start from InO-1 .. InO-4 and override only the keys given. Without it the keys
    in :data:`REQUIRED_WITHOUT_PRESET` are required and the others take
    :data:`OPTIONAL_DEFAULTS`.
    """

    union_tag: ClassVar[str | None] = "custom"

    name: str = "custom"
    preset: SamplePresetName | None = None
    model: Literal["two_gap", "plain_btk"] | None = Field(
        None, description="two_gap (Andreev sees Delta_c) or plain_btk (one gap, Delta_c = E_g)")
    Tc_K: PositiveFloat | None = Field(None, le=100, description="critical temperature, K")
    R_max_ohm: PositiveFloat | None = Field(None, le=1e9, description="peak sheet R, ohm/sq")
    thickness_m: PositiveFloat | None = Field(None, le=1e-5, description="film thickness, m")
    transition_width_ratio: PositiveFloat | None = Field(
        None, le=1, description="width of the resistive drop / Tc")
    insulating_exponent: NonNegativeFloat | None = Field(
        None, le=5, description="R ~ T^-p above the transition")
    E_g_eV: PositiveFloat | None = Field(
        None, le=0.1, description="single-particle gap at T = 0 at the default tip position, eV")
    E_g_map_eV: tuple[PositiveFloat, PositiveFloat] | None = Field(
        None, description="[low, high] range of E_g over the film, eV (null: uniform)")
    gap_correlation_length_m: PositiveFloat | None = Field(
        None, le=1e-5, description="correlation length of the gap maps, m")
    Delta_c_eV: NonNegativeFloat | None = Field(
        None, le=0.1, description="collective (Andreev) gap at T = 0, eV")
    Delta_c_spread_eV: NonNegativeFloat | None = Field(
        None, le=0.01, description="rms spread of Delta_c over the film, eV")
    Gamma_eV: PositiveFloat | None = Field(
        None, le=0.01, description="Dynes broadening of the quasiparticle channel, eV")
    Gamma_A_eV: PositiveFloat | None = Field(
        None, le=0.01, description="broadening of the Andreev (pair) channel, eV")
    n_channels: int | None = Field(
        None, ge=1, le=1000, description="conduction channels of the contact (equal tau)")
    tip_change_channel_fraction: NonNegativeFloat | None = Field(
        None, le=1, description="rms relative change of n_channels at a tip change (0: none)")
    Delta_c_closing_ratio: PositiveFloat | None = Field(
        None, le=10, description="Delta_c(T) closes at this multiple of Tc (BCS law)")
    pseudogap_closing_ratio: PositiveFloat | None = Field(
        None, le=100, description="E_g(T) closes at this multiple of Tc (BCS-shaped law)")
    Gamma_growth_above_Tc: NonNegativeFloat | None = Field(
        None, le=100, description="d(Gamma/Gamma0)/d(T/Tc) above Tc")

    @model_validator(mode="after")
    def _complete(self) -> CustomSample:
        plain = self._plain()
        if plain:
            extra = [k for k in _TWO_GAP_ONLY if getattr(self, k) is not None]
            if extra:
                raise KeyedValueError([((k,), (
                    "does not apply to a plain-BTK sample (one gap: Delta_c = E_g, one "
                    "broadening Gamma_eV, uniform over the film)")) for k in extra])
        if self.preset is None:
            required = [k for k in REQUIRED_WITHOUT_PRESET if not (plain and k in _TWO_GAP_ONLY)]
            missing = [k for k in required if getattr(self, k) is None]
            if missing:
                raise KeyedValueError([((k,), (
                    "required for a custom sample without a preset (or start from one with "
                    "'preset: InO-2' and override only what differs)")) for k in missing])
        if (self.Delta_c_eV is not None and self.E_g_eV is not None
                and self.Delta_c_eV > self.E_g_eV):
            raise KeyedValueError([(("Delta_c_eV",), (
                f"the collective gap ({self.Delta_c_eV} eV) cannot exceed E_g_eV "
                f"({self.E_g_eV} eV)"))])
        try:
            self.to_parameters()
        except ValueError as exc:
            message = self._station_words(str(exc))
            raise KeyedValueError([(self._blame(message), message)]) from None
        return self

    @staticmethod
    def _station_words(message: str) -> str:
        """The physics core's field names in a message, as the station file spells them."""
        message = message.replace("Delta_c0 (", "Delta_c_eV (").replace("E_g0 (", "E_g_eV (")
        for key, field in sorted(_FIELDS.items(), key=lambda kv: -len(kv[1])):
            message = message.replace(field, key)
        return message

    def _plain(self) -> bool:
        if self.model is not None:
            return self.model == "plain_btk"
        if self.preset is not None:
            from stm_andreev.physics import get_sample

            return get_sample(self.preset).plain_btk
        return OPTIONAL_DEFAULTS["model"] == "plain_btk"

    @staticmethod
    def _blame(message: str) -> tuple[str, ...]:
        first = min(((message.find(key), key) for key in _FIELDS if key in message),
                    default=None)
        return () if first is None else (first[1],)

    def to_parameters(self):
        """The :class:`~stm_andreev.physics.SampleParameters` this section describes."""
        from stm_andreev.physics import SampleParameters, get_sample

        given = {k: getattr(self, k) for k in _FIELDS if getattr(self, k) is not None}
        plain = self._plain()
        if self.preset is not None:
            base = get_sample(self.preset)
            values = {field: getattr(base, field) for field in _FIELDS.values()}
        else:
            values = {_FIELDS[k]: v for k, v in OPTIONAL_DEFAULTS.items() if k in _FIELDS}
        values.update({_FIELDS[k]: v for k, v in given.items()})
        if values["Eg_map_range_eV"] is not None:
            values["Eg_map_range_eV"] = tuple(values["Eg_map_range_eV"])
        if plain:
            # One gap: the Andreev channel sees E_g itself, with the quasiparticle broadening.
            values["Delta_c0_eV"] = values["Eg0_eV"]
            values["gamma_c_eV"] = values["gamma_eV"]
            values["Eg_map_range_eV"] = None
        return SampleParameters(name=self.name, plain_btk=plain, **values)


__all__ = ["OPTIONAL_DEFAULTS", "REQUIRED_WITHOUT_PRESET", "CustomSample", "SamplePresetName"]

"""marsspec:superresolve — 4x single-image super-resolution of CaSSIS or any layer (MARSGAN)."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterBand,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from marsspec.core import options
from marsspec.marsspec_plugin.algorithms.base import MarsspecAlgorithm, models_help
from marsspec.marsspec_plugin.feedback import cancel_callback, log_callback, progress_callback
from marsspec.marsspec_plugin.styling import style_output_on_load


class SuperresolveAlgorithm(MarsspecAlgorithm):
    INPUT = "INPUT"
    BANDS = "BANDS"
    COLOUR_MODE = "COLOUR_MODE"
    MODEL = "MODEL"
    FIDELITY = "FIDELITY"
    DEVICE = "DEVICE"
    PRECISION = "PRECISION"
    OUTPUT = "OUTPUT"
    NAME = "superresolve"
    DISPLAY_NAME = "Super-resolve CaSSIS/any layer 4x"
    GROUP_ID = "enhance"
    GROUP = "Enhance"
    REQUIRED_MODULES = ("torch", "safetensors")
    FEATURE = "Super-resolution"
    HELP = (
        "Single-image 4x super-resolution with a MARSGAN generator (Tao et al. 2021, Remote "
        "Sensing 13, 1777): AWRRDB blocks and multi-scale reconstruction, trained on HiRISE-like "
        "high-resolution images degraded by Gaussian blur + bicubic x4.\n\n"
        "INPUT: a CaSSIS colour composite, a single band, or any raster. BANDS: one band gives "
        "a greyscale result; three or more bands a colour one (default: band 1, or bands 1-3). "
        "COLOUR_MODE: 'hsv' (default, as the paper) super-resolves the brightness V and "
        "upsamples hue and saturation bicubically, so colours and band ratios are preserved; "
        "'per-band' super-resolves every band on its own (colours may shift slightly). "
        "MODEL: marsgan-psnr (PSNR-oriented, no synthetic texture; the default) or marsgan-gan "
        "(GAN stage: may invent fine texture; the bundled one adds grain and is a little "
        "softer at edges, see models/marsgan-gan.md). FIDELITY (optional, 0-1): blends the "
        "two generators' weights (ESRGAN network interpolation): 1 = pure PSNR model, 0 = pure "
        "GAN model. DEVICE/"
        "PRECISION: auto uses a CUDA GPU with fp16 when present, else the CPU.\n\n"
        "OUTPUT: float32 GeoTIFF with pixels 4x smaller (same CRS and origin), the input's "
        "values (no 8-bit step), nodata kept as nodata, provenance tags (model, weights "
        "sha256, parameters). The bundled models are CPU-sized and were trained on SIMULATED "
        "HiRISE-like scenes plus real HiRISE images (a browse strip; the GAN stage also real "
        "HiRISE crops); no real CaSSIS-HiRISE pair was used. Treat fine detail as an "
        "enhancement, not a measurement."
    )

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API name
        return super().shortHelpString() + models_help("superres", html=False, stride=False)

    def initAlgorithm(self, config=None):  # noqa: N802 - QGIS API name
        models = options.model_ids("superres")
        self.addParameter(QgsProcessingParameterRasterLayer(self.INPUT, self.tr("Input raster")))
        self.addParameter(
            QgsProcessingParameterBand(
                self.BANDS,
                self.tr("Bands (1 = greyscale, 3+ = colour; empty = 1 or 1-3)"),
                parentLayerParameterName=self.INPUT,
                allowMultiple=True,
                optional=True,
            )
        )
        self.add_choice(self.COLOUR_MODE, "Colour mode", options.COLOUR_MODES)
        self.add_choice(
            self.MODEL,
            "Model",
            models,
            options.default_model("superres", models),
            help_text=models_help("superres", html=False, stride=False).strip(),
        )
        self.addParameter(
            QgsProcessingParameterNumber(
                self.FIDELITY,
                self.tr("Fidelity (1 = PSNR model, 0 = GAN model; empty = the model alone)"),
                type=QgsProcessingParameterNumber.Type.Double,
                minValue=0.0,
                maxValue=1.0,
                optional=True,
            )
        )
        self.add_choice(self.DEVICE, "Device", options.DEVICES)
        self.add_choice(self.PRECISION, "Precision", options.PRECISIONS)
        self.addParameter(
            QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Super-resolved raster"))
        )
        self.add_allow_non_mars()
        self.add_no_rescale()
        self.add_assume_crs()
        self.add_dask()

    def _bands(self, parameters, context) -> tuple[int, ...] | None:
        """Band numbers from a list (dialog, Python) or "3,2,1" text (qgis_process, models)."""
        raw = parameters.get(self.BANDS)
        if raw in (None, "", []):
            return None
        items = raw.split(",") if isinstance(raw, str) else raw
        if isinstance(items, list | tuple):
            try:
                return tuple(int(str(b).strip()) for b in items if str(b).strip()) or None
            except ValueError:
                pass
        return tuple(self.parameterAsInts(parameters, self.BANDS, context)) or None

    def execute(self, parameters, context, feedback):
        from marsspec.core.jobs import run as run_job
        from marsspec.core.superres.job import SuperresConfig, SuperresRequest

        path = self.raster_path(parameters, self.INPUT, context)
        bands = self._bands(parameters, context)
        fidelity = parameters.get(self.FIDELITY)
        fidelity = (
            None
            if fidelity in (None, "")
            else self.parameterAsDouble(parameters, self.FIDELITY, context)
        )
        config = SuperresConfig(
            bands=bands,
            colour_mode=self.choice(parameters, self.COLOUR_MODE, context),
            model=self.choice(parameters, self.MODEL, context),
            fidelity=fidelity,
            device=self.choice(parameters, self.DEVICE, context),
            precision=self.choice(parameters, self.PRECISION, context),
            allow_non_mars=self.allow_non_mars(parameters, context),
            rescale=self.rescale(parameters, context),
            **self.assume_kwargs(parameters, context),
        )
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        source = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        scaled = self.run_scaled(
            SuperresRequest(path, output, config), parameters, context, feedback
        )
        if scaled is not None:
            style_output_on_load(context, output, "like_input", source)
            return {self.OUTPUT: scaled["OUTPUT"]}
        result = run_job(
            SuperresRequest(path, output, config),
            progress=progress_callback(feedback),
            cancel=cancel_callback(feedback),
            log=log_callback(feedback),
        )
        feedback.pushInfo(
            f"{result.width}x{result.height} px, bands {result.bands}, {result.colour_mode}, "
            f"model {result.model_id}, {result.seconds:.1f} s on {result.device}"
        )
        style_output_on_load(context, output, "like_input", source)
        return {self.OUTPUT: str(result.output)}

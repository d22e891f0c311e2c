"""Baseline: the schema of release 0.1.0 (``create_schema`` before migrations existed).

Frozen: this revision never changes, whatever ``schema.py`` becomes. A database made by 0.1.0
(tables, no ``alembic_version``) is stamped at this revision and upgraded from here; a new
database is created by running it. The EXIF columns are the list 0.1.0 built from Pillow's tag
tables, written out so a newer Pillow cannot change what this revision creates.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_MYSQL_OPTS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_bin",
    "mariadb_engine": "InnoDB",
    "mariadb_charset": "utf8mb4",
    "mariadb_collate": "utf8mb4_bin",
}


def _hash() -> sa.String:
    return sa.String(64)


def _long_text() -> sa.types.TypeEngine:
    return sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def _path() -> sa.String:
    return sa.String(4096)


def _short() -> sa.String:
    return sa.String(255)


# (column name, TIFF/EXIF tag, kind: i int, f float, t text) as 0.1.0 created them.
EXIF_COLUMNS_0_1_0: tuple[tuple[str, int, str], ...] = (
    ("processing_software", 11, "t"), ("new_subfile_type", 254, "i"), ("subfile_type", 255, "i"),
    ("image_width", 256, "i"), ("image_length", 257, "i"), ("bits_per_sample", 258, "t"),
    ("compression", 259, "i"), ("photometric_interpretation", 262, "i"), ("thresholding", 263, "i"),
    ("cell_width", 264, "i"), ("cell_length", 265, "i"), ("fill_order", 266, "i"),
    ("document_name", 269, "t"), ("image_description", 270, "t"), ("make", 271, "t"), ("model", 272, "t"),
    ("orientation", 274, "i"), ("samples_per_pixel", 277, "i"), ("rows_per_strip", 278, "i"),
    ("min_sample_value", 280, "t"), ("max_sample_value", 281, "t"), ("x_resolution", 282, "f"),
    ("y_resolution", 283, "f"), ("planar_configuration", 284, "i"), ("page_name", 285, "t"),
    ("x_position", 286, "f"), ("y_position", 287, "f"), ("gray_response_unit", 290, "i"),
    ("t4_options", 292, "i"), ("t6_options", 293, "i"), ("resolution_unit", 296, "i"),
    ("page_number", 297, "t"), ("software", 305, "t"), ("date_time", 306, "t"), ("artist", 315, "t"),
    ("host_computer", 316, "t"), ("predictor", 317, "i"), ("white_point", 318, "t"),
    ("primary_chromaticities", 319, "t"), ("halftone_hints", 321, "t"), ("tile_width", 322, "i"),
    ("tile_length", 323, "i"), ("ink_set", 332, "i"), ("ink_names", 333, "t"),
    ("number_of_inks", 334, "i"), ("dot_range", 336, "t"), ("target_printer", 337, "t"),
    ("extra_samples", 338, "t"), ("sample_format", 339, "t"), ("s_min_sample_value", 340, "t"),
    ("s_max_sample_value", 341, "t"), ("x_clip_path_units", 344, "i"), ("y_clip_path_units", 345, "i"),
    ("indexed_image", 346, "i"), ("opi_proxy", 351, "i"), ("y_cb_cr_coefficients", 529, "t"),
    ("y_cb_cr_sub_sampling", 530, "t"), ("y_cb_cr_positioning", 531, "i"),
    ("reference_black_white", 532, "t"), ("xmp", 700, "t"), ("related_image_file_format", 4096, "t"),
    ("related_image_width", 4097, "i"), ("related_image_length", 4098, "i"), ("rating", 18246, "i"),
    ("rating_percent", 18249, "i"), ("image_id", 32781, "t"), ("matteing", 32995, "i"),
    ("data_type", 32996, "t"), ("image_depth", 32997, "i"), ("tile_depth", 32998, "i"),
    ("cfa_repeat_pattern_dim", 33421, "t"), ("cfa_pattern_33422", 33422, "t"),
    ("battery_level", 33423, "f"), ("copyright", 33432, "t"), ("exposure_time", 33434, "f"),
    ("f_number", 33437, "f"), ("exposure_program", 34850, "i"), ("spectral_sensitivity", 34852, "t"),
    ("iso_speed_ratings", 34855, "i"), ("oecf", 34856, "t"), ("interlace", 34857, "i"),
    ("time_zone_offset", 34858, "t"), ("self_timer_mode", 34859, "i"), ("sensitivity_type", 34864, "i"),
    ("standard_output_sensitivity", 34865, "i"), ("recommended_exposure_index", 34866, "i"),
    ("iso_speed", 34867, "i"), ("iso_speed_latitudeyyy", 34868, "i"),
    ("iso_speed_latitudezzz", 34869, "i"), ("exif_version", 36864, "t"),
    ("date_time_original", 36867, "t"), ("date_time_digitized", 36868, "t"), ("offset_time", 36880, "t"),
    ("offset_time_original", 36881, "t"), ("offset_time_digitized", 36882, "t"),
    ("components_configuration", 37121, "t"), ("compressed_bits_per_pixel", 37122, "f"),
    ("shutter_speed_value", 37377, "f"), ("aperture_value", 37378, "f"), ("brightness_value", 37379, "f"),
    ("exposure_bias_value", 37380, "f"), ("max_aperture_value", 37381, "f"),
    ("subject_distance", 37382, "f"), ("metering_mode", 37383, "i"), ("light_source", 37384, "i"),
    ("flash", 37385, "i"), ("focal_length", 37386, "f"), ("flash_energy_37387", 37387, "f"),
    ("spatial_frequency_response_37388", 37388, "t"), ("noise", 37389, "t"), ("image_number", 37393, "i"),
    ("security_classification", 37394, "t"), ("image_history", 37395, "t"),
    ("subject_location_37396", 37396, "t"), ("exposure_index_37397", 37397, "f"),
    ("tiff_ep_standard_id", 37398, "t"), ("user_comment", 37510, "t"), ("subsec_time", 37520, "t"),
    ("subsec_time_original", 37521, "t"), ("subsec_time_digitized", 37522, "t"),
    ("ambient_temperature", 37888, "f"), ("humidity", 37889, "f"), ("pressure", 37890, "f"),
    ("water_depth", 37891, "f"), ("acceleration", 37892, "f"), ("camera_elevation_angle", 37893, "f"),
    ("xp_title", 40091, "t"), ("xp_comment", 40092, "t"), ("xp_author", 40093, "t"),
    ("xp_keywords", 40094, "t"), ("xp_subject", 40095, "t"), ("flash_pix_version", 40960, "t"),
    ("color_space", 40961, "i"), ("exif_image_width", 40962, "i"), ("exif_image_height", 40963, "i"),
    ("related_sound_file", 40964, "t"), ("flash_energy_41483", 41483, "f"),
    ("spatial_frequency_response_41484", 41484, "t"), ("focal_plane_x_resolution", 41486, "f"),
    ("focal_plane_y_resolution", 41487, "f"), ("focal_plane_resolution_unit", 41488, "i"),
    ("subject_location_41492", 41492, "t"), ("exposure_index_41493", 41493, "f"),
    ("sensing_method", 41495, "i"), ("file_source", 41728, "t"), ("scene_type", 41729, "t"),
    ("cfa_pattern_41730", 41730, "t"), ("custom_rendered", 41985, "i"), ("exposure_mode", 41986, "i"),
    ("white_balance", 41987, "i"), ("digital_zoom_ratio", 41988, "f"),
    ("focal_length_in35mm_film", 41989, "i"), ("scene_capture_type", 41990, "i"),
    ("gain_control", 41991, "i"), ("contrast", 41992, "i"), ("saturation", 41993, "i"),
    ("sharpness", 41994, "i"), ("device_setting_description", 41995, "t"),
    ("subject_distance_range", 41996, "i"), ("image_unique_id", 42016, "t"),
    ("camera_owner_name", 42032, "t"), ("body_serial_number", 42033, "t"),
    ("lens_specification", 42034, "t"), ("lens_make", 42035, "t"), ("lens_model", 42036, "t"),
    ("lens_serial_number", 42037, "t"), ("composite_image", 42080, "i"),
    ("composite_image_count", 42081, "t"), ("composite_image_exposure_times", 42082, "t"),
    ("gamma", 42240, "f"), ("number_of_images", 45057, "i"), ("total_frames", 45060, "i"),
    ("mp_individual_num", 45313, "i"), ("pan_orientation", 45569, "i"), ("pan_overlap_h", 45570, "f"),
    ("pan_overlap_v", 45571, "f"), ("base_viewpoint_num", 45572, "i"), ("convergence_angle", 45573, "f"),
    ("baseline_length", 45574, "f"), ("vertical_divergence", 45575, "f"), ("axis_distance_x", 45576, "f"),
    ("axis_distance_y", 45577, "f"), ("axis_distance_z", 45578, "f"), ("yaw_angle", 45579, "f"),
    ("pitch_angle", 45580, "f"), ("roll_angle", 45581, "f"), ("dng_version", 50706, "t"),
    ("dng_backward_version", 50707, "t"), ("unique_camera_model", 50708, "t"),
    ("localized_camera_model", 50709, "t"), ("cfa_plane_color", 50710, "t"), ("cfa_layout", 50711, "i"),
    ("black_level_repeat_dim", 50713, "t"), ("black_level", 50714, "t"),
    ("black_level_delta_h", 50715, "t"), ("black_level_delta_v", 50716, "t"), ("white_level", 50717, "i"),
    ("default_scale", 50718, "t"), ("default_crop_origin", 50719, "t"), ("default_crop_size", 50720, "t"),
    ("color_matrix1", 50721, "t"), ("color_matrix2", 50722, "t"), ("camera_calibration1", 50723, "t"),
    ("camera_calibration2", 50724, "t"), ("reduction_matrix1", 50725, "t"),
    ("reduction_matrix2", 50726, "t"), ("analog_balance", 50727, "t"), ("as_shot_neutral", 50728, "t"),
    ("as_shot_white_xy", 50729, "t"), ("baseline_exposure", 50730, "f"), ("baseline_noise", 50731, "f"),
    ("baseline_sharpness", 50732, "f"), ("bayer_green_split", 50733, "i"),
    ("linear_response_limit", 50734, "f"), ("camera_serial_number", 50735, "t"), ("lens_info", 50736, "t"),
    ("chroma_blur_radius", 50737, "f"), ("anti_alias_strength", 50738, "f"), ("shadow_scale", 50739, "f"),
    ("maker_note_safety", 50741, "i"), ("calibration_illuminant1", 50778, "i"),
    ("calibration_illuminant2", 50779, "i"), ("best_quality_scale", 50780, "f"),
    ("raw_data_unique_id", 50781, "t"), ("original_raw_file_name", 50827, "t"),
    ("active_area", 50829, "t"), ("masked_areas", 50830, "t"), ("as_shot_pre_profile_matrix", 50832, "t"),
    ("current_pre_profile_matrix", 50834, "t"), ("colorimetric_reference", 50879, "t"),
    ("camera_calibration_signature", 50931, "t"), ("profile_calibration_signature", 50932, "t"),
    ("as_shot_profile_name", 50934, "t"), ("noise_reduction_applied", 50935, "f"),
    ("profile_name", 50936, "t"), ("profile_hue_sat_map_dims", 50937, "t"),
    ("profile_embed_policy", 50941, "i"), ("profile_copyright", 50942, "t"),
    ("forward_matrix1", 50964, "t"), ("forward_matrix2", 50965, "t"),
    ("preview_application_name", 50966, "t"), ("preview_application_version", 50967, "t"),
    ("preview_settings_name", 50968, "t"), ("preview_settings_digest", 50969, "t"),
    ("preview_color_space", 50970, "i"), ("preview_date_time", 50971, "t"),
    ("raw_image_digest", 50972, "t"), ("original_raw_file_digest", 50973, "t"),
    ("sub_tile_block_size", 50974, "t"), ("row_interleave_factor", 50975, "i"),
    ("profile_look_table_dims", 50981, "t"), ("noise_profile", 51041, "t"), ("frame_rate", 51044, "f"),)  # fmt: skip

RUN_STAGES_0_1_0 = ("decode", "metadata", "scalebar", "inference", "database")


def _exif_type(kind: str) -> sa.types.TypeEngine:
    if kind == "i":
        return sa.BigInteger()
    if kind == "f":
        return sa.Double()
    return _long_text()


def upgrade() -> None:
    op.create_table(
        "image_files",
        sa.Column("path_key", _hash(), primary_key=True, comment="sha256 of the path's bytes"),
        sa.Column("path", _path(), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("image_hash", _hash(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", _long_text()),
        sa.Column("sidecars", _long_text(), comment="JSON list of sidecar files ingested with the image"),
        sa.Column("sidecar_stamp", _hash(), comment="sha256 of the sidecars' paths, sizes and mtimes"),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
        **_MYSQL_OPTS,
    )
    op.create_index("ix_image_files_image_hash", "image_files", ["image_hash"])
    op.create_index("ix_image_files_run_id", "image_files", ["run_id", "status"])

    op.create_table(
        "images",
        sa.Column("image_hash", _hash(), primary_key=True),
        sa.Column("path", _path(), nullable=False),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("mode", sa.String(32)),
        sa.Column("format", sa.String(16)),
        sa.Column("page_count", sa.Integer),
        sa.Column("vendor", sa.String(32)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", _long_text()),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
        sa.Column(
            "canonical_rank",
            sa.SmallInteger,
            nullable=False,
            comment="0 ok with vendor metadata, 1 ok without, 2 failed with, 3 failed without: the best file wins",
        ),
        **_MYSQL_OPTS,
    )
    op.create_index("ix_images_vendor", "images", ["vendor"])
    op.create_index("ix_images_status", "images", ["status"])

    op.create_table(
        "exif_meta",
        sa.Column("image_hash", _hash(), primary_key=True),
        *(sa.Column(name, _exif_type(kind), comment=f"tag {tag}") for name, tag, kind in EXIF_COLUMNS_0_1_0),
        **_MYSQL_OPTS,
    )

    op.create_table(
        "instrument_meta",
        sa.Column("image_hash", _hash(), primary_key=True),
        sa.Column("vendor", sa.String(32)),
        sa.Column("model", _short()),
        sa.Column("pixel_size_m", sa.Double),
        sa.Column("accelerating_voltage_v", sa.Double),
        sa.Column("working_distance_m", sa.Double),
        sa.Column("magnification", sa.Double),
        sa.Column("detector", _short()),
        sa.Column("acquired_at", sa.DateTime()),
        sa.Column("databar_height_px", sa.Integer),
        sa.Column("source", _path(), comment="where the values came from: tiff:34118, a sidecar path, ..."),
        sa.Column("raw", _long_text(), comment="the full vendor dictionary (JSON object)"),
        **_MYSQL_OPTS,
    )
    op.create_index("ix_instrument_meta_vendor", "instrument_meta", ["vendor"])

    op.create_table(
        "pixel_size",
        sa.Column("image_hash", _hash(), primary_key=True),
        sa.Column("metadata_pixel_size_m", sa.Double),
        sa.Column("ocr_pixel_size_m", sa.Double),
        sa.Column("scale_bar_text", _short()),
        sa.Column("scale_bar_value", sa.Double),
        sa.Column("scale_bar_unit", sa.String(8)),
        sa.Column("scale_bar_px", sa.Double),
        sa.Column("ratio", sa.Double, comment="ocr_pixel_size_m / metadata_pixel_size_m"),
        sa.Column("style", sa.String(32), comment="scale-bar detector that matched"),
        sa.Column("reason", _long_text(), comment="why no OCR pixel size was found"),
        **_MYSQL_OPTS,
    )

    op.create_table(
        "inference",
        sa.Column("image_hash", _hash(), primary_key=True),
        sa.Column("model_id", sa.String(128), primary_key=True),
        sa.Column("top1_label", _short()),
        sa.Column("top1_score", sa.Double),
        sa.Column("scores", _long_text(), comment="JSON object label -> score"),
        sa.Column("error", _long_text(), comment="why the image could not be classified"),
        **_MYSQL_OPTS,
    )
    op.create_index("ix_inference_model_label", "inference", ["model_id", "top1_label"])

    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("source", _path(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime()),
        sa.Column("heartbeat_at", sa.DateTime(), comment="last progress update by the driver"),
        sa.Column("status", sa.String(16), nullable=False, comment="running, succeeded or failed"),
        sa.Column("discovered", sa.BigInteger, nullable=False),
        sa.Column("skipped", sa.BigInteger, nullable=False),
        sa.Column("processed", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        sa.Column("duplicates", sa.BigInteger, nullable=False),
        sa.Column("seconds", sa.Double),
        *(sa.Column(f"{stage}_seconds", sa.Double) for stage in RUN_STAGES_0_1_0),
        sa.Column("model_id", sa.String(128)),
        sa.Column("error", _long_text()),
        sa.Column("driver_host", _short()),
        sa.Column("driver_pid", sa.Integer),
        sa.Column("summary", _long_text(), comment="the run's full JSON summary (per-vendor counts, ...)"),
        **_MYSQL_OPTS,
    )
    op.create_index("ix_ingest_runs_started", "ingest_runs", ["started_at"])


def downgrade() -> None:
    for table in (
        "ingest_runs",
        "inference",
        "pixel_size",
        "instrument_meta",
        "exif_meta",
        "images",
        "image_files",
    ):
        op.drop_table(table)

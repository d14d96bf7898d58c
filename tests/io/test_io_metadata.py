"""The sRGB profile outputs are tagged with: the same bytes in every process."""

import io
import struct
import subprocess
import sys

from PIL import ImageCms

from ppr10k.io.metadata import SRGB_PROFILE_DATE, srgb_icc_profile


def test_srgb_profile_header_date_is_fixed_and_profile_still_parses():
    profile = srgb_icc_profile()
    # ICC header: size at 0..3, 'acsp' signature at 36..39, date at 24..35 (six uint16)
    assert struct.unpack(">I", profile[:4])[0] == len(profile)
    assert profile[36:40] == b"acsp"
    assert struct.unpack(">6H", profile[24:36]) == SRGB_PROFILE_DATE
    assert profile[84:100] == bytes(16)  # profile ID "not computed": the date change keeps it valid
    parsed = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    assert "sRGB" in ImageCms.getProfileDescription(parsed)


def test_srgb_profile_is_the_same_bytes_in_another_process_a_second_later():
    code = ("import sys, time; time.sleep(1.1); from ppr10k.io.metadata import srgb_icc_profile;"
            "sys.stdout.buffer.write(srgb_icc_profile())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    assert other == srgb_icc_profile()

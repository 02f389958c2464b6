// The image decoders on hostile input (issue 10, section 4): a corpus of malformed JPEGs made at test time from
// valid ones written by PIL. Each file either gives an sgml::Error that names it, or decodes exactly as PIL
// (Image.open(f).convert("RGB"), tests/reference/jpeg_ref.py) does. Also paths that are not readable image files,
// declared sizes that would allocate gigabytes, and the JPEG encoder (deterministic, read back by PIL).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>

#include "data/image_decode.h"
#include "engine/check.h"
#include "data/image_io.h"
#include "tests/support/test_support.h"

using namespace sgml;
using Bytes = std::vector<uint8_t>;

namespace {

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// Offset of the first marker FF `code` in the header part (before the first scan's data), or npos.
size_t find_marker(const Bytes& b, uint8_t code) {
  size_t i = 2;  // after SOI
  while (i + 4 <= b.size() && b[i] == 0xFF) {
    if (b[i + 1] == code) return i;
    if (b[i + 1] == 0xDA) break;
    i += 2 + ((size_t(b[i + 2]) << 8) | b[i + 3]);
  }
  return std::string::npos;
}

// The first byte of entropy-coded data after the first start-of-scan segment.
size_t first_scan_data(const Bytes& b) {
  const size_t sos = find_marker(b, 0xDA);
  EXPECT_NE(sos, std::string::npos);
  return sos + 2 + ((size_t(b[sos + 2]) << 8) | b[sos + 3]);
}

size_t first_sof(const Bytes& b) {
  for (uint8_t code : {0xC0, 0xC1, 0xC2})
    if (const size_t at = find_marker(b, code); at != std::string::npos) return at;
  ADD_FAILURE() << "no SOF marker";
  return 0;
}

Bytes with_size(Bytes b, int width, int height) {  // patched in the frame header (SOF)
  const size_t sof = first_sof(b);
  b[sof + 5] = uint8_t(height >> 8), b[sof + 6] = uint8_t(height);
  b[sof + 7] = uint8_t(width >> 8), b[sof + 8] = uint8_t(width);
  return b;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// PIL's decoding of DIR/NAME.jpg, written by `jpeg_ref.py decode`; nullopt where PIL could not decode it.
std::optional<RgbImage> pil_decoding(const std::string& dir, const std::string& name) {
  const Bytes raw = read_bytes(dir + "/" + name + ".pil");
  if (raw.empty()) return std::nullopt;
  const auto newline = std::find(raw.begin(), raw.end(), uint8_t('\n'));
  RgbImage im;
  EXPECT_EQ(std::sscanf(std::string(raw.begin(), newline).c_str(), "%d %d", &im.width, &im.height), 2);
  im.pixels.assign(newline + 1, raw.end());
  EXPECT_EQ(im.pixels.size(), size_t(im.width) * im.height * 3);
  return im;
}

int max_difference(const RgbImage& a, const RgbImage& b) {
  int worst = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) worst = std::max(worst, std::abs(int(a.pixels[i]) - int(b.pixels[i])));
  return worst;
}

// The corpus: PIL's valid files plus the damaged ones made from them. Returns the folder, with PIL's decodings.
std::string make_corpus() {
  const std::string dir = test::scratch_dir("corpus");
  test::run_reference("jpeg_ref.py", {"corpus", dir});
  const Bytes rgb = read_bytes(dir + "/rgb.jpg"), progressive = read_bytes(dir + "/progressive.jpg");
  const size_t data = first_scan_data(rgb);
  auto save = [&](const std::string& name, const Bytes& b) { write_bytes(dir + "/" + name + ".jpg", b); };

  // Cut inside the scan, and the same with an end-of-image marker appended (stb_image decoded that one silently).
  const size_t cut = data + (rgb.size() - data) / 2;
  save("truncated", Bytes(rgb.begin(), rgb.begin() + long(cut)));
  Bytes cut_eoi(rgb.begin(), rgb.begin() + long(cut));
  cut_eoi.insert(cut_eoi.end(), {0xFF, 0xD9});
  save("truncated_eoi", cut_eoi);
  // Huffman table counts summing to 16 x 17 = 272 > 256 codes (stb_image read past its 257-entry array).
  Bytes huff = rgb;
  const size_t dht = find_marker(huff, 0xC4);
  for (int k = 0; k < 16; ++k) huff[dht + 5 + size_t(k)] = 17;
  save("bad_huffman_counts", huff);
  // The first table renamed (DC 0 -> DC 3): the scan uses a table the file never defines. libjpeg-turbo (and so
  // PIL) then uses the standard table of the JPEG spec (Motion-JPEG files omit them), which is the one PIL wrote:
  // the pixels are intact and must come out as PIL's.
  Bytes undefined_table = rgb;
  undefined_table[dht + 4] = 0x03;
  save("undefined_huffman_table", undefined_table);
  // Markers: a lossless frame type; an end-of-image and a restart marker inside the scan data (the file keeps its
  // length and its real end marker); padding between two header segments (harmless: decodes like PIL).
  Bytes sof3 = rgb;
  sof3[first_sof(sof3) + 1] = 0xC3;
  save("marker_sof3", sof3);
  Bytes early_eoi = rgb;
  early_eoi[cut] = 0xFF, early_eoi[cut + 1] = 0xD9;
  save("marker_eoi_in_scan", early_eoi);
  Bytes rst = rgb;
  rst[cut] = 0xFF, rst[cut + 1] = 0xD3;
  save("marker_rst_in_scan", rst);
  Bytes padded = rgb;
  const size_t dqt = find_marker(padded, 0xDB);
  padded.insert(padded.begin() + long(dqt), {0x00, 0x00, 0x00, 0x00, 0x00});
  save("padding_between_segments", padded);
  // Declared sizes: over the 2^28-pixel limit (libjpeg itself allows 65500 a side), and zero.
  save("huge_65000x65000", with_size(rgb, 65000, 65000));
  save("huge_progressive_20000x20000", with_size(progressive, 20000, 20000));
  save("zero_height", with_size(rgb, 96, 0));
  // 12-bit precision in the frame header.
  Bytes twelve = rgb;
  twelve[first_sof(twelve) + 4] = 12;
  save("precision_12", twelve);
  // A progressive file whose last scan is repeated 1,200 times.
  Bytes many = progressive;
  size_t last_sos = many.size() - 2;
  while (!(many[last_sos] == 0xFF && many[last_sos + 1] == 0xDA)) --last_sos;
  const Bytes scan(many.begin() + long(last_sos), many.end() - 2);
  for (int k = 0; k < 1200; ++k) many.insert(many.end() - 2, scan.begin(), scan.end());
  save("progressive_1200_scans", many);

  test::run_reference("jpeg_ref.py", {"decode", dir});
  return dir;
}

// Made for each test that uses it, in its own scratch folder: a passing test's folder is removed when it ends
// (tests/support/scratch_cleanup.cpp), so a corpus kept from an earlier test of the same process would be gone.
std::string corpus_dir() { return make_corpus(); }

// Valid files: the same pixels as PIL.
TEST(ImageDecodeJpeg, ValidFilesDecodeAsPil) {
  const std::string dir = corpus_dir();
  for (const char* name : {"rgb", "rgb444", "progressive", "gray", "cmyk", "odd", "padding_between_segments",
                           "undefined_huffman_table"}) {
    const std::string path = dir + "/" + name + ".jpg";
    const std::optional<RgbImage> pil = pil_decoding(dir, name);
    ASSERT_TRUE(pil.has_value()) << name;
    RgbImage ours;
    ASSERT_NO_THROW(ours = decode_image_file(path)) << error_of([&] { decode_image_file(path); });
    ASSERT_EQ(ours.width, pil->width) << name;
    ASSERT_EQ(ours.height, pil->height) << name;
    const int worst = max_difference(ours, *pil);
    std::printf("%-26s %dx%d: max |ours - PIL| = %d levels\n", name, ours.width, ours.height, worst);
    EXPECT_LE(worst, 1) << name;  // the same libjpeg-turbo as PIL's: 0 measured
    // The report's thumbnails take the other entry point; it must agree.
    EXPECT_EQ(load_image_rgb(path).pixels, ours.pixels) << name;
  }
}

// Damaged files: an sgml::Error naming the file and saying what is wrong, never a crash or silent grey pixels.
TEST(ImageDecodeJpeg, DamagedFilesGiveErrorsNamingTheFile) {
  const std::string dir = corpus_dir();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"truncated", "truncated JPEG"},
      {"truncated_eoi", "Corrupt JPEG data"},
      {"bad_huffman_counts", "Bogus Huffman table"},
      {"marker_sof3", "Unsupported JPEG process"},
      {"marker_eoi_in_scan", "Corrupt JPEG data"},
      {"marker_rst_in_scan", "Corrupt JPEG data"},
      {"huge_65000x65000", "over the limit of 268435456 pixels"},
      {"huge_progressive_20000x20000", "over the limit of 268435456 pixels"},
      {"zero_height", "Empty JPEG image"},
      {"precision_12", "only 8-bit JPEG can be decoded"},
      {"progressive_1200_scans", "JPEG: "},
  };
  for (const auto& [name, what] : cases) {
    const std::string path = dir + "/" + name + ".jpg";
    const std::string message = error_of([&] { decode_image_file(path); });
    std::printf("%-30s -> %s\n", name.c_str(), message.c_str());
    EXPECT_NE(message.find("'" + path + "'"), std::string::npos) << message;
    EXPECT_NE(message.find(what), std::string::npos) << name << ": " << message;
    // The report's entry point refuses them too (the truncation pre-check is decode_image_file's alone; libjpeg
    // catches the cut itself).
    EXPECT_NE(error_of([&] { load_image_rgb(path); }).find(path), std::string::npos) << name;
  }
}

// Bytes appended after the end of the image are ignored, as PIL and libjpeg/libpng do, however many and whatever
// they hold: the truncation check used to look for PNG's IEND in the last 4 KiB only, and for a JPEG's end marker
// after the last FF DA of the file, which an appended FF DA moved. Cut files stay refused.
TEST(ImageDecodeFiles, BytesAfterTheEndAreIgnoredCutFilesRefused) {
  const std::string dir = test::scratch_dir("trailer");
  RgbImage im(23, 17);
  for (size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = uint8_t(i * 37 % 251);
  const Bytes png = encode_png(im);
  Bytes trailer(5000, 0x00);
  for (size_t i = 0; i < trailer.size(); i += 7) trailer[i] = uint8_t(i);
  trailer.insert(trailer.begin() + 100, {0xFF, 0xDA, 0x00, 0x0C});  // a scan's start, and no end after it
  Bytes png_trailer = png;
  png_trailer.insert(png_trailer.end(), trailer.begin(), trailer.end());
  write_bytes(dir + "/trailer.png", png_trailer);
  RgbImage decoded;
  ASSERT_NO_THROW(decoded = decode_image_file(dir + "/trailer.png"))
      << error_of([&] { decode_image_file(dir + "/trailer.png"); });
  EXPECT_EQ(decoded.pixels, im.pixels);

  const std::string jpeg_path = corpus_dir() + "/rgb.jpg";
  const Bytes jpeg = read_bytes(jpeg_path);
  Bytes jpeg_trailer = jpeg;
  jpeg_trailer.insert(jpeg_trailer.end(), trailer.begin(), trailer.end());
  write_bytes(dir + "/trailer.jpg", jpeg_trailer);
  ASSERT_NO_THROW(decoded = decode_image_file(dir + "/trailer.jpg"))
      << error_of([&] { decode_image_file(dir + "/trailer.jpg"); });
  EXPECT_EQ(decoded.pixels, decode_image_file(jpeg_path).pixels);

  // Cut: inside the image data, and just before the end chunk or marker.
  const size_t idat =
      size_t(std::search(png.begin(), png.end(), std::begin("IDAT"), std::end("IDAT") - 1) - png.begin());
  const std::vector<std::pair<std::string, Bytes>> cut = {
      {"cut_in_data.png", Bytes(png.begin(), png.begin() + long(idat + 10))},
      {"cut_before_iend.png", Bytes(png.begin(), png.end() - 12)},
      {"cut_before_eoi.jpg", Bytes(jpeg.begin(), jpeg.end() - 2)},
  };
  for (const auto& [name, bytes] : cut) {
    write_bytes(dir + "/" + name, bytes);
    const std::string message = error_of([&] { decode_image_file(dir + "/" + name); });
    EXPECT_NE(message.find("truncated"), std::string::npos) << name << ": " << message;
    EXPECT_NE(message.find(name), std::string::npos) << message;
  }
}

// Declared sizes over the limit are refused from the header, for stb_image's formats too (a PNG's IHDR):
// 17000 x 17000 is 2^28.1 pixels, which stb_image itself would allocate (its own limit is 2^30 bytes).
TEST(ImageDecodeJpeg, HugeDeclaredPngSizeIsRefusedBeforeDecoding) {
  const std::string dir = test::scratch_dir("png");
  RgbImage im(8, 8, 90);
  Bytes png = encode_png(im);
  ASSERT_EQ(std::string(png.begin() + 12, png.begin() + 16), "IHDR");
  for (size_t at : {16, 20}) png[at] = 0, png[at + 1] = 0, png[at + 2] = 0x42, png[at + 3] = 0x68;  // 17000
  write_bytes(dir + "/huge.png", png);
  const std::string message = error_of([&] { decode_image_file(dir + "/huge.png"); });
  EXPECT_NE(message.find(dir + "/huge.png"), std::string::npos) << message;
  EXPECT_NE(message.find("17000x17000"), std::string::npos) << message;
  EXPECT_NE(message.find("over the limit"), std::string::npos) << message;
}

// Formats other than JPEG and PNG are refused by name. Found by fuzzing (scripts/fuzz.sh, target image): this
// 54-byte BMP header declares 4 x 15101444 pixels and carries none; stb_image's BMP loader does not check for the
// end of the data and returned a 181 MB black image without a word (PIL: "image file is truncated").
TEST(ImageDecodeFiles, OtherFormatsAreRefusedNotInvented) {
  const std::string dir = test::scratch_dir("bmp");
  const std::string b64 = "Qk1mAAAAAAAAADYAAAAoAAAABAAAAARu5gABABgAAAAAADAAAADEDgBlAHt5WmkAMAAAAMRg";
  Bytes bmp;
  int bits = 0;
  unsigned value = 0;  // the undecoded bits (at most 14), masked so that the shift never overflows
  for (char c : b64) {  // base64 decode
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    value = ((value << 6) | unsigned(alphabet.find(c))) & 0x3FFFu;
    if ((bits += 6) >= 8) bmp.push_back(uint8_t((value >> (bits -= 8)) & 0xFF));
  }
  ASSERT_EQ(bmp.size(), 54u);
  ASSERT_EQ(bmp[0], 'B');
  write_bytes(dir + "/truncated.bmp", bmp);
  const std::string message = error_of([&] { decode_image_file(dir + "/truncated.bmp"); });
  EXPECT_NE(message.find(dir + "/truncated.bmp"), std::string::npos) << message;
  EXPECT_NE(message.find("not a JPEG or PNG image"), std::string::npos) << message;
}

// Paths that are not readable image files: a directory (was "basic_filebuf::underflow ... Is a directory" escaping
// as an unexpected error), a file without read permission, a named pipe (would block), a missing file.
TEST(ImageDecodeFiles, UnreadablePathsNameTheFile) {
  namespace fs = std::filesystem;
  const std::string dir = test::scratch_dir("paths");
  fs::create_directories(dir + "/folder.jpg");
  ASSERT_EQ(::mkfifo((dir + "/pipe.jpg").c_str(), 0600), 0);
  std::vector<std::pair<std::string, std::string>> cases = {
      {dir + "/folder.jpg", "is a directory"},
      {dir + "/pipe.jpg", "not a regular file"},
      {dir + "/missing.jpg", "no such file"},
  };
  for (const auto& [path, what] : cases)
    for (const auto& decode : {std::function<void()>([p = path] { decode_image_file(p); }),
                               std::function<void()>([p = path] { load_image_rgb(p); })}) {
      const std::string message = error_of(decode);
      EXPECT_NE(message.find("'" + path + "'"), std::string::npos) << message;
      EXPECT_NE(message.find(what), std::string::npos) << message;
    }
}

// As root, permissions do not stop a read: the decoder then runs in a child process as user "nobody".
std::string error_without_read_permission(const std::string& path) {
  if (::geteuid() != 0) return error_of([&] { decode_image_file(path); });
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(fds[0]);
    std::string message = "could not become nobody";
    if (::setgid(65534) == 0 && ::setuid(65534) == 0) message = error_of([&] { decode_image_file(path); });
    if (::write(fds[1], message.data(), message.size()) < 0) _exit(2);
    _exit(0);
  }
  ::close(fds[1]);
  std::string message;
  char buffer[512];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) message.append(buffer, size_t(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  return message;
}

TEST(ImageDecodeFiles, FileWithoutReadPermissionNamesTheFile) {
  const std::string dir = test::scratch_dir("locked");
  const std::string path = dir + "/locked.jpg";
  write_bytes(path, encode_jpeg(RgbImage(8, 8, 50), 90));
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);
  ::chmod(dir.c_str(), 0755);  // the folder stays searchable for "nobody"
  const std::string message = error_without_read_permission(path);
  ::chmod(path.c_str(), 0600);
  if (message == "could not become nobody") GTEST_SKIP() << "cannot switch to user nobody here";
  std::printf("%s\n", message.c_str());
  EXPECT_NE(message.find("cannot open image '" + path + "'"), std::string::npos) << message;
  EXPECT_NE(message.find("Permission denied"), std::string::npos) << message;
}

// The one JPEG encoder (demo data, report thumbnails): same bytes for the same pixels, a file PIL reads exactly as
// we do, close to the original, chroma at full resolution above quality 90 (as stb_image_write had it).
TEST(ImageDecodeEncoder, JpegEncoderIsDeterministicAndReadByPil) {
  const std::string dir = test::scratch_dir("encode");
  RgbImage im(75, 50);
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width; ++x)
      for (int c = 0; c < 3; ++c)
        im.at(x, y)[c] = uint8_t(std::min(255, x * 2 + y + c * 30 + (x / 5 + y / 5) % 2 * 12));
  for (int quality : {92, 85}) {
    const Bytes a = encode_jpeg(im, quality), b = encode_jpeg(im, quality);
    EXPECT_EQ(a, b);
    const std::string name = "q" + std::to_string(quality);
    write_bytes(dir + "/" + name + ".jpg", a);
    const size_t sof = first_sof(a);
    EXPECT_EQ(a[sof + 11], quality > 90 ? 0x11 : 0x22) << "luma sampling factors at quality " << quality;
  }
  test::run_reference("jpeg_ref.py", {"decode", dir});
  for (int quality : {92, 85}) {
    const std::string name = "q" + std::to_string(quality);
    const std::optional<RgbImage> pil = pil_decoding(dir, name);
    ASSERT_TRUE(pil.has_value());
    const RgbImage ours = decode_image_file(dir + "/" + name + ".jpg");
    EXPECT_EQ(max_difference(ours, *pil), 0);
    double squared = 0;
    for (size_t i = 0; i < im.pixels.size(); ++i) squared += std::pow(double(ours.pixels[i]) - im.pixels[i], 2);
    const double psnr = 10 * std::log10(255.0 * 255.0 / (squared / double(im.pixels.size())));
    std::printf("quality %d: %zu bytes, PSNR %.1f dB\n", quality, read_bytes(dir + "/" + name + ".jpg").size(), psnr);
    EXPECT_GT(psnr, 28.0);
  }
  EXPECT_THROW(encode_jpeg(im, 0), Error);
  EXPECT_THROW(encode_jpeg(RgbImage(), 90), Error);
}

}  // namespace

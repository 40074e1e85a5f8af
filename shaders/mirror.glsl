// @effect mirror and tile: reflect halves and repeat the image in mirrored tiles
// Tiles alternate in reflection so their seams match. Mode 1 keeps the left half and reflects it
// onto the right; mode 2 keeps the top half and reflects it onto the bottom; mode 3 does both.
uniform int mode;    // @param 1 [0, 3] "0 none, 1 left onto right, 2 top onto bottom, 3 both"
uniform int tiles;   // @param 1 [1, 8] "mirrored tiles across and up"

void main() {
    vec2 q = v_uv * float(tiles);
    vec2 cell = floor(q);
    q = fract(q);
    q = mix(q, 1.0 - q, mod(cell, 2.0));
    if (mode == 1 || mode == 3) q.x = min(q.x, 1.0 - q.x);
    if (mode == 2 || mode == 3) q.y = max(q.y, 1.0 - q.y);
    frag_color = vec4(texture(u_input, q).rgb, 1.0);
}
